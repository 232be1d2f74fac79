
/*
 * The few nginx core functions the pure files call, for unit tests and
 * fuzz targets that link those files without nginx.  Every allocation goes
 * to one arena that shim_reset() releases, as destroying a pool would.
 */


#include <ngx_config.h>
#include <ngx_core.h>


void shim_reset(void);
void shim_forget(void);


typedef struct shim_block_s  shim_block_t;

struct shim_block_s {
    shim_block_t  *next;
};


/* the process's id, as nginx keeps it */
ngx_pid_t  ngx_pid;


static shim_block_t        *shim_blocks;
static ngx_pool_cleanup_t  *shim_cleanups;


static void *
shim_alloc(size_t size)
{
    shim_block_t  *b;

    b = malloc(sizeof(shim_block_t) + (size ? size : 1));
    if (b == NULL) {
        return NULL;
    }

    b->next = shim_blocks;
    shim_blocks = b;

    return b + 1;
}


void
shim_reset(void)
{
    shim_block_t        *b, *next;
    ngx_pool_cleanup_t  *c;

    for (c = shim_cleanups; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    shim_cleanups = NULL;

    for (b = shim_blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    shim_blocks = NULL;
}


/* what was allocated so far lives as long as the process */

void
shim_forget(void)
{
    shim_cleanups = NULL;
    shim_blocks = NULL;
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return shim_alloc(size);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return shim_alloc(size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = shim_alloc(size);
    if (p) {
        memset(p, 0, size);
    }

    return p;
}


/* run by shim_reset(), newest first, as ngx_destroy_pool() runs them */

ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = shim_alloc(sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = size ? shim_alloc(size) : NULL;
    if (size && c->data == NULL) {
        return NULL;
    }

    c->handler = NULL;
    c->next = shim_cleanups;
    shim_cleanups = c;

    return c;
}


/* the same growth as nginx's: double the array when it is full */

void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = shim_alloc(2 * (a->nalloc ? a->nalloc : 1) * a->size);
        if (elts == NULL) {
            return NULL;
        }

        memcpy(elts, a->elts, a->nelts * a->size);
        a->elts = elts;
        a->nalloc = 2 * (a->nalloc ? a->nalloc : 1);
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    return strncasecmp((char *) s1, (char *) s2, n);
}


/*
 * nginx's ngx_snprintf() for the formats the pure files use (%V, %s, %*s,
 * %d, %i, %ui, %uz, %Z, %%), with its truncation: at most max bytes, the
 * %Z's NUL among them.  Any other format aborts, to be added here.
 */

u_char * ngx_cdecl
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    char        num[32];
    u_char     *last;
    size_t      len, star;
    va_list     args;
    ngx_str_t  *v;
    const char *s;

    last = buf + max;

    va_start(args, fmt);

    for ( /* void */ ; *fmt && buf < last; fmt++) {

        if (*fmt != '%') {
            *buf++ = *fmt;
            continue;
        }

        fmt++;
        star = (size_t) -1;

        if (*fmt == '*') {
            star = va_arg(args, size_t);
            fmt++;
        }

        s = num;
        len = 0;

        switch (*fmt) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            s = (const char *) v->data;
            len = v->len;
            break;

        case 's':
            s = va_arg(args, const char *);
            len = (star != (size_t) -1) ? star : strlen(s);
            break;

        case 'd':
            len = sprintf(num, "%d", va_arg(args, int));
            break;

        case 'i':
            len = sprintf(num, "%lld", (long long) va_arg(args, ngx_int_t));
            break;

        case 'u':
            fmt++;

            if (*fmt == 'i') {
                len = sprintf(num, "%llu",
                              (unsigned long long) va_arg(args, ngx_uint_t));

            } else if (*fmt == 'z') {
                len = sprintf(num, "%zu", va_arg(args, size_t));

            } else {
                abort();
            }

            break;

        case 'Z':
            num[0] = '\0';
            len = 1;
            break;

        case '%':
            num[0] = '%';
            len = 1;
            break;

        default:
            abort();
        }

        len = ngx_min(len, (size_t) (last - buf));
        buf = ngx_cpymem(buf, s, len);
    }

    va_end(args);

    return buf;
}


/* nginx's ngx_gmtime(): full year, months from 1 */

void
ngx_gmtime(time_t t, ngx_tm_t *tp)
{
    gmtime_r(&t, tp);
    tp->tm_year += 1900;
    tp->tm_mon += 1;
}
