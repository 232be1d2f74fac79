
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Reading and rewriting what a request carries: its query string, its
 * urlencoded body and its headers, so that proxy_pass sends the result.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_uint_t ngx_http_7digital_is_form(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_parse_into(ngx_pool_t *pool,
    ngx_str_t *text, ngx_array_t *params, const char *what,
    ngx_http_7digital_error_t *err);


ngx_uint_t
ngx_http_7digital_wants_body(ngx_http_request_t *r)
{
    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return 0;
    }

    return ngx_http_7digital_is_form(r);
}


static ngx_uint_t
ngx_http_7digital_is_form(ngx_http_request_t *r)
{
    ngx_str_t  *ct;

    static ngx_str_t  form = ngx_string("application/x-www-form-urlencoded");

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    ct = &r->headers_in.content_type->value;

    return ct->len >= form.len
           && ngx_strncasecmp(ct->data, form.data, form.len) == 0
           && (ct->len == form.len || ct->data[form.len] == ';'
               || ct->data[form.len] == ' ');
}


ngx_int_t
ngx_http_7digital_read_input(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_input_t *in,
    ngx_uint_t with_body, ngx_http_7digital_error_t *err)
{
    ngx_int_t  rc;

    if (ngx_array_init(&in->query, r->pool, 8,
                       sizeof(ngx_http_7digital_param_t))
        != NGX_OK
        || ngx_array_init(&in->body, r->pool, 1,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK
        || ngx_array_init(&in->header, r->pool, 1,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_7digital_parse_into(r->pool, &r->args, &in->query,
                                      "query string", err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!with_body || !ngx_http_7digital_wants_body(r)) {
        return NGX_OK;
    }

    in->form = 1;

    rc = ngx_http_7digital_body_text(r, &in->body_text);

    if (rc == NGX_DECLINED) {
        err->status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        err->code = 1003;
        ngx_str_set(&err->parameter, "body");
        ngx_str_set(&err->message,
                    "the form body is larger than client_body_buffer_size");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_7digital_parse_into(r->pool, &in->body_text, &in->body,
                                        "form body", err);
}


static ngx_int_t
ngx_http_7digital_parse_into(ngx_pool_t *pool, ngx_str_t *text,
    ngx_array_t *params, const char *what, ngx_http_7digital_error_t *err)
{
    ngx_int_t   rc;
    ngx_uint_t  problem;

    rc = ngx_http_7digital_parse_params(pool, text, params);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        problem = ngx_http_7digital_params_check(params);

    } else {
        problem = (rc == NGX_ABORT) ? NGX_HTTP_7DIGITAL_TEXT_TOO_MANY
                                    : NGX_HTTP_7DIGITAL_TEXT_ENCODING;
    }

    if (problem == NGX_HTTP_7DIGITAL_TEXT_OK) {
        return NGX_OK;
    }

    /* a refused sale's record holds nothing of the text that was refused */
    params->nelts = 0;

    return ngx_http_7digital_input_error(pool, problem, what, err);
}


/*
 * Why a query string, a form body or a path was refused, by problem
 * (NGX_HTTP_7DIGITAL_TEXT_*): 400, 7digital's 1002; the message names the
 * part of the request and never repeats what it held.
 */

static char  *ngx_http_7digital_input_problems[] = {
    "",
    "the %s has a control character",
    "the %s is not UTF-8",
    "the %s has invalid percent-encoding",
    "the %s has more than %d parameters"
};


ngx_int_t
ngx_http_7digital_input_error(ngx_pool_t *pool, ngx_uint_t problem,
    const char *what, ngx_http_7digital_error_t *err)
{
    err->status = NGX_HTTP_BAD_REQUEST;
    err->code = 1002;

    err->message.data = ngx_pnalloc(pool, 128);
    if (err->message.data == NULL) {
        return NGX_ERROR;
    }

    err->message.len = ngx_snprintf(err->message.data, 128,
                                     ngx_http_7digital_input_problems[problem],
                                     what, NGX_HTTP_7DIGITAL_MAX_PARAMS)
                       - err->message.data;

    /* Choose Digital's errors[] name the part: query, body, path */
    switch (*what) {

    case 'q':
        ngx_str_set(&err->parameter, "query");
        break;

    case 'p':
        ngx_str_set(&err->parameter, "path");
        break;

    default:
        ngx_str_set(&err->parameter, "body");
    }

    return NGX_DECLINED;
}


/*
 * The body is inspected only while it fits in client_body_buffer_size:
 * reading a temporary file back would block the worker.
 */

ngx_int_t
ngx_http_7digital_body_text(ngx_http_request_t *r, ngx_str_t *text)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    ngx_str_null(text);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    if (r->request_body->temp_file) {
        return NGX_DECLINED;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            return NGX_DECLINED;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    if (len == 0) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL) {
        text->data = cl->buf->pos;
        text->len = len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = len;

    for ( /* void */ ; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_7digital_set_body(ngx_http_request_t *r, ngx_str_t *text)
{
    ngx_buf_t        *b;
    ngx_chain_t      *cl;
    ngx_table_elt_t  *h;

    if (text->len == 0) {
        r->request_body->bufs = NULL;

    } else {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = text->data;
        b->last = text->data + text->len;
        b->start = b->pos;
        b->end = b->last;
        b->memory = 1;
        b->last_buf = 1;

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;

        r->request_body->bufs = cl;
    }

    r->headers_in.content_length_n = text->len;
    r->headers_in.chunked = 0;

    h = r->headers_in.content_length;

    if (h) {
        h->value.data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (h->value.data == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%uz", text->len)
                       - h->value.data;
    }

    return NGX_OK;
}


/*
 * proxy_pass sends r->unparsed_uri untouched while it is valid; clearing
 * the flag makes it build the request line from r->uri and r->args.
 */

ngx_int_t
ngx_http_7digital_set_args(ngx_http_request_t *r, ngx_str_t *args)
{
    r->args = *args;
    r->valid_unparsed_uri = 0;

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_7digital_find_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t *count)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    part = &r->headers_in.headers.part;
    h = part->elts;
    found = NULL;
    n = 0;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            if (found == NULL) {
                found = &h[i];
            }

            n++;
        }
    }

    if (count) {
        *count = n;
    }

    return found;
}


/*
 * proxy_pass forwards every entry of headers_in.headers, so a header is
 * removed by building the list again without it.
 */

ngx_int_t
ngx_http_7digital_remove_headers(ngx_http_request_t *r, ngx_str_t *names)
{
    ngx_str_t        *name;
    ngx_uint_t        i, n, drop;
    ngx_list_t        list;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&list, r->pool, n + 4, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            drop = 0;

            for (name = names; name->len; name++) {
                if (h[i].key.len == name->len
                    && ngx_strncasecmp(h[i].key.data, name->data, name->len)
                       == 0)
                {
                    drop = 1;
                    break;
                }
            }

            if (drop) {
                if (r->headers_in.authorization == &h[i]) {
                    r->headers_in.authorization = NULL;
                }

                continue;
            }

            nh = ngx_list_push(&list);
            if (nh == NULL) {
                return NGX_ERROR;
            }

            *nh = h[i];
        }
    }

    r->headers_in.headers = list;

    /* the list was sized to fit in one part, which now lives elsewhere */
    r->headers_in.headers.last = &r->headers_in.headers.part;

    return NGX_OK;
}


ngx_int_t
ngx_http_7digital_add_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->lowcase_key = ngx_pnalloc(r->pool, name->len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    h->key = *name;
    h->value = *value;
    h->hash = ngx_hash_strlow(h->lowcase_key, name->data, name->len);

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * Copies a response's in-memory buffers into *buf as they pass.  NGX_OK:
 * the last buffer went by; NGX_AGAIN: more to come; NGX_DECLINED: larger
 * than max, or on disk, so not worth keeping.  The buffer grows as the
 * answer does, so that an answer of unknown length does not cost max
 * bytes up front; an answer of known length gets its size at once.
 */

#define NGX_HTTP_7DIGITAL_CAPTURE_START  16384

ngx_int_t
ngx_http_7digital_capture(ngx_http_request_t *r, ngx_buf_t **buf, size_t max,
    ngx_chain_t *in)
{
    size_t        n, size, used;
    ngx_buf_t    *b, *nb;
    ngx_chain_t  *cl;

    b = *buf;

    if (b == NULL) {
        size = ngx_min(max, NGX_HTTP_7DIGITAL_CAPTURE_START);

        if (r->headers_out.content_length_n > 0
            && (size_t) r->headers_out.content_length_n <= max)
        {
            size = (size_t) r->headers_out.content_length_n;
        }

        b = ngx_create_temp_buf(r->pool, size ? size : 1);
        if (b == NULL) {
            return NGX_DECLINED;
        }

        *buf = b;
    }

    for (cl = in; cl; cl = cl->next) {

        if (ngx_buf_in_memory(cl->buf)) {
            n = cl->buf->last - cl->buf->pos;
            used = b->last - b->pos;

            if (n > max - used) {
                return NGX_DECLINED;
            }

            if (n > (size_t) (b->end - b->last)) {
                size = ngx_min(ngx_max(2 * (size_t) (b->end - b->start),
                                       used + n),
                               max);

                nb = ngx_create_temp_buf(r->pool, size);
                if (nb == NULL) {
                    return NGX_DECLINED;
                }

                nb->last = ngx_cpymem(nb->pos, b->pos, used);
                ngx_pfree(r->pool, b->start);

                *buf = nb;
                b = nb;
            }

            b->last = ngx_cpymem(b->last, cl->buf->pos, n);

        } else if (ngx_buf_size(cl->buf)) {
            return NGX_DECLINED;
        }

        /* a subrequest's answer ends with last_in_chain */
        if (cl->buf->last_buf || (r != r->main && cl->buf->last_in_chain)) {
            return NGX_OK;
        }
    }

    return NGX_AGAIN;
}


/*
 * What became of a request sent upstream, for the records a sale leaves:
 * whether any of it was sent, the last upstream's status (0 when no answer
 * was read: a timeout, a reset), and how many servers were sent bytes.
 */

void
ngx_http_7digital_upstream_outcome(ngx_http_request_t *r, ngx_uint_t *sent,
    ngx_int_t *status, ngx_uint_t *tries)
{
    ngx_uint_t                  i;
    ngx_http_upstream_state_t  *state;

    /* request_sent is reset at each connect: the states say it all */
    *sent = (r->upstream && r->upstream->request_sent);
    *status = 0;
    *tries = 0;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return;
    }

    state = r->upstream_states->elts;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        if (state[i].bytes_sent > 0) {
            (*tries)++;
        }
    }

    if (*tries) {
        *sent = 1;
    }

    state += r->upstream_states->nelts - 1;

    if (state->header_time != (ngx_msec_t) -1 && state->status) {
        *status = state->status;
    }
}


/*
 * An answer the gateway has in memory (a hit, a kept answer), sent from
 * the precontent phase: the request is finalized here, NGX_DONE.
 */

ngx_int_t
ngx_http_7digital_send_answer(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    if (body->len == 0) {
        ngx_http_finalize_request(r, ngx_http_send_special(r, NGX_HTTP_LAST));
        return NGX_DONE;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return NGX_DONE;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
}
