
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Errors in each upstream API's own format, so that partner clients parse
 * a gateway refusal the way they parse the API's.  Bodies never repeat
 * what the client sent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_ERROR_LEN  1024




/*
 * Every auth status in one place: its $sevendigital_auth_status value,
 * the HTTP status, the 7digital error code, the message in each API's
 * words, and whether 7digital reports it as a plain-text OAuth error.
 */

typedef struct {
    ngx_http_7digital_auth_e   auth;
    ngx_str_t                  name;
    ngx_uint_t                 status;
    ngx_uint_t                 code;
    char                      *message_7d;
    char                      *message_cd;
    unsigned                   oauth:1;
    unsigned                   guess:1;
} ngx_http_7digital_auth_text_t;


/* in the enumeration's order; codes from the 7digital schema */
static ngx_http_7digital_auth_text_t  ngx_http_7digital_auth_texts[] = {

    { NGX_HTTP_7DIGITAL_AUTH_NONE, ngx_null_string,
      NGX_HTTP_UNAUTHORIZED, 1001, "", "", 0, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_OK, ngx_string("OK"),
      NGX_HTTP_UNAUTHORIZED, 1001, "", "", 0, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_MISSING, ngx_string("MISSING"),
      NGX_HTTP_UNAUTHORIZED, 1001,
      "Missing required parameter oauth_consumer_key", "Required", 0, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_UNKNOWN, ngx_string("UNKNOWN"),
      NGX_HTTP_UNAUTHORIZED, 1002,
      "Invalid consumer key", "Invalid access key id", 0, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_DISABLED, ngx_string("DISABLED"),
      NGX_HTTP_UNAUTHORIZED, 7002,
      "Consumer key is disabled", "Access key id is disabled", 0, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_FORBIDDEN, ngx_string("FORBIDDEN"),
      NGX_HTTP_FORBIDDEN, 7002,
      "Consumer key may not use this API",
      "Access key id may not use this API", 0, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_CONFLICT, ngx_string("CONFLICT"),
      NGX_HTTP_UNAUTHORIZED, 1002,
      "Conflicting values of oauth_consumer_key", "Conflicting values",
      0, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_MALFORMED, ngx_string("MALFORMED"),
      NGX_HTTP_UNAUTHORIZED, 1002,
      "Malformed Authorization header", "Malformed", 1, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_UNSIGNED, ngx_string("UNSIGNED"),
      NGX_HTTP_UNAUTHORIZED, 1001,
      "Signature required", "Required", 1, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_STALE, ngx_string("STALE"),
      NGX_HTTP_UNAUTHORIZED, 1003,
      "Timestamp outside the allowed window",
      "validation.invalid.outofrange", 1, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE, ngx_string("BAD_SIGNATURE"),
      NGX_HTTP_UNAUTHORIZED, 1002,
      "Invalid signature", "Invalid", 1, 1 },

    { NGX_HTTP_7DIGITAL_AUTH_REPLAY, ngx_string("REPLAY"),
      NGX_HTTP_UNAUTHORIZED, 1002,
      "Nonce already used", "Invalid", 1, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_UNAVAILABLE, ngx_string("UNAVAILABLE"),
      NGX_HTTP_SERVICE_UNAVAILABLE, 9001,
      "The token store is unavailable, try again", "Unavailable", 0, 0 },

    { NGX_HTTP_7DIGITAL_AUTH_EXPIRED, ngx_string("EXPIRED"),
      NGX_HTTP_UNAUTHORIZED, 7002,
      "Consumer key has expired", "Access key id has expired", 0, 0 }
};


static ngx_http_7digital_auth_text_t *
ngx_http_7digital_auth_text(ngx_http_7digital_auth_e auth)
{
    ngx_http_7digital_auth_text_t  *t;

    t = &ngx_http_7digital_auth_texts[auth];

    /* the table follows the enumeration: a mismatch is a build mistake */
    return (t->auth == auth) ? t : &ngx_http_7digital_auth_texts[0];
}


ngx_uint_t
ngx_http_7digital_auth_guess(ngx_http_7digital_auth_e auth)
{
    return ngx_http_7digital_auth_text(auth)->guess;
}


/* $sevendigital_auth_status */

ngx_str_t *
ngx_http_7digital_auth_name(ngx_http_7digital_auth_e auth)
{
    return &ngx_http_7digital_auth_text(auth)->name;
}


void
ngx_http_7digital_auth_error(ngx_uint_t api, ngx_http_7digital_auth_e auth,
    ngx_str_t *param, ngx_http_7digital_error_t *err)
{
    char                           *msg;
    ngx_http_7digital_auth_text_t  *t;

    t = ngx_http_7digital_auth_text(auth);

    err->status = t->status;
    err->code = t->code;
    err->parameter = *param;

    msg = (api == NGX_HTTP_7DIGITAL_API_7D) ? t->message_7d : t->message_cd;

    err->message.data = (u_char *) msg;
    err->message.len = ngx_strlen(msg);

    /* 7digital reports failed OAuth checks in plain text */
    err->oauth = (api == NGX_HTTP_7DIGITAL_API_7D && t->oauth);
}


/* the answer, sent; what the output filter returned, for the caller */

static ngx_int_t
ngx_http_7digital_error_output(ngx_http_request_t *r, ngx_uint_t api,
    ngx_http_7digital_error_t *err)
{
    u_char       *p, *last;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_7DIGITAL_ERROR_LEN);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    if (api == NGX_HTTP_7DIGITAL_API_CD) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        p = ngx_slprintf(p, last,
                         "{\"errors\":[{\"parameter\":\"%V\","
                         "\"message\":\"%V\"}]}",
                         &err->parameter, &err->message);

    } else if (err->oauth) {
        ngx_str_set(&r->headers_out.content_type, "text/plain");
        p = ngx_slprintf(p, last, "OAuth authentication error: %V",
                         &err->message);

    } else if (!err->xml && ngx_http_7digital_wants_json(r)) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        p = ngx_slprintf(p, last,
                         "{\"status\":\"error\",\"version\":\"1.2\","
                         "\"error\":{\"code\":%ui,\"errorMessage\":\"%V\"}}",
                         err->code, &err->message);

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/xml");
        p = ngx_slprintf(p, last,
                         "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                         "<response status=\"error\" version=\"1.2\">"
                         "<error code=\"%ui\"><errorMessage>%V</errorMessage>"
                         "</error></response>",
                         err->code, &err->message);
    }

    b->last = p;
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = err->status;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    ngx_str_set(&r->headers_out.charset, "utf-8");
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* answered and finalized: NGX_DONE, as the access phase expects */

ngx_int_t
ngx_http_7digital_send_error(ngx_http_request_t *r, ngx_uint_t api,
    ngx_http_7digital_error_t *err)
{
    ngx_http_finalize_request(r, ngx_http_7digital_error_output(r, api, err));

    return NGX_DONE;
}


/*
 * The errors nginx itself raises (a bad request line, a body too large, an
 * upstream that failed), as the API would word them: one row per status,
 * 7digital's code from its schema.  Others: by class.
 */

typedef struct {
    ngx_uint_t                 status;
    ngx_uint_t                 code;
    char                      *message;
} ngx_http_7digital_status_text_t;


static ngx_http_7digital_status_text_t  ngx_http_7digital_status_texts[] = {
    { NGX_HTTP_BAD_REQUEST, 1002, "Bad request" },
    { NGX_HTTP_UNAUTHORIZED, 1002, "Unauthorized" },
    { NGX_HTTP_FORBIDDEN, 7002, "Forbidden" },
    { NGX_HTTP_NOT_FOUND, 2001, "Resource not found" },
    { NGX_HTTP_NOT_ALLOWED, 1002, "Method not allowed" },
    { NGX_HTTP_REQUEST_TIME_OUT, 7003, "Request timed out" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, 1003, "Request body too large" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, 1003, "Request URI too long" },
    { NGX_HTTP_TOO_MANY_REQUESTS, 7001, "Rate limit exceeded, retry later" },
    { NGX_HTTP_REQUEST_HEADER_TOO_LARGE, 1003, "Request header too large" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, 9001, "Internal error" },
    { NGX_HTTP_BAD_GATEWAY, 7001, "Upstream unavailable" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, 7001, "Service unavailable, retry later" },
    { NGX_HTTP_GATEWAY_TIME_OUT, 7003, "Upstream timed out" },
    { 0, 0, NULL }
};


/*
 * The content handler of "sevendigital_error": the error that brought the
 * request here by error_page, in the API's format; XML only where the
 * endpoint the client asked for answers XML only.
 */

ngx_int_t
ngx_http_7digital_error_handler(ngx_http_request_t *r)
{
    u_char                           *q;
    ngx_str_t                         uri, path;
    ngx_uint_t                        status, api;
    ngx_http_7digital_route_t         route;
    ngx_http_7digital_error_t         err;
    ngx_http_7digital_loc_conf_t     *lcf;
    ngx_http_7digital_status_text_t  *t;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
    api = lcf->error_api;

    /* reached without an error: the location itself is not a resource */
    status = r->err_status ? r->err_status : NGX_HTTP_NOT_FOUND;

    /* nginx's own code for a header too large goes out as 400 */
    if (status == NGX_HTTP_REQUEST_HEADER_TOO_LARGE) {
        status = NGX_HTTP_BAD_REQUEST;
    }

    for (t = ngx_http_7digital_status_texts; t->status; t++) {
        if (t->status == status) {
            break;
        }
    }

    ngx_memzero(&err, sizeof(ngx_http_7digital_error_t));

    err.status = status;
    err.code = t->status ? t->code : (status < 500 ? 1002 : 9001);
    err.message.data = (u_char *) (t->status ? t->message
                                   : (status < 500 ? "Bad request"
                                                   : "Internal error"));
    err.message.len = ngx_strlen(err.message.data);
    ngx_str_set(&err.parameter, "request");

    /* the endpoint the client asked for, whatever error_page did since */
    uri = r->unparsed_uri;

    /* NULL when the request line was not even parsed */
    q = uri.len ? ngx_strlchr(uri.data, uri.data + uri.len, '?') : NULL;

    if (q) {
        uri.len = q - uri.data;
    }

    if (api == NGX_HTTP_7DIGITAL_API_7D && uri.len
        && ngx_http_7digital_endpoint_path(r->pool, api, &uri, &path)
           == NGX_OK)
    {
        ngx_http_7digital_endpoint_match(api, &path,
                                 ngx_http_7digital_method_bit(&r->method_name),
                                 NULL, &route);

        err.xml = (route.endpoint && route.endpoint->xml_only);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: error %ui answered as %ui, \"%V\"",
                   status, err.code, &err.message);

    /* the status and the body are the error's; nothing the upstream set */
    r->headers_out.status = status;
    r->headers_out.status_line.len = 0;

    return ngx_http_7digital_error_output(r, api, &err);
}


/*
 * 7digital answers XML unless asked for JSON; the .NET wrapper asks with
 * "application/json, application/xml;q=0.5".  JSON wins when the Accept
 * header names it before any XML type.
 */

ngx_uint_t
ngx_http_7digital_wants_json(ngx_http_request_t *r)
{
    u_char     *json, *xml, *end;
    ngx_str_t  *accept;

#if (NGX_HTTP_HEADERS)
    if (r->headers_in.accept == NULL) {
        return 0;
    }

    accept = &r->headers_in.accept->value;
#else
    ngx_table_elt_t  *h;
    static ngx_str_t  name = ngx_string("Accept");

    h = ngx_http_7digital_find_header(r, &name, NULL);
    if (h == NULL) {
        return 0;
    }

    accept = &h->value;
#endif

    end = accept->data + accept->len;

    json = ngx_strlcasestrn(accept->data, end, (u_char *) "json", 4 - 1);

    if (json == NULL) {
        return 0;
    }

    xml = ngx_strlcasestrn(accept->data, end, (u_char *) "xml", 3 - 1);

    return xml == NULL || json < xml;
}
