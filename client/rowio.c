/*
 * Tab-separated row I/O.
 *
 * One row per line, fields separated by TAB.  Inside a field a backslash
 * escapes: \\ backslash, \t tab, \n newline, \r carriage return.  A field
 * that is exactly \N is NULL (None in Python).  Output uses the same rules,
 * so the output of one script can be the input of the next.
 */
#include "slcclient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void slc_reader_init(slc_reader *r, FILE *in)
{
    memset(r, 0, sizeof *r);
    r->in = in;
}

void slc_reader_free(slc_reader *r)
{
    free(r->line);
    free(r->fields);
    free(r->lengths);
    memset(r, 0, sizeof *r);
}

static int add_field(slc_reader *r, char *start, size_t len)
{
    if (r->nfields == r->fields_cap) {
        size_t cap = r->fields_cap ? 2 * r->fields_cap : 16;
        char **f = realloc(r->fields, cap * sizeof *f);
        size_t *l = f ? realloc(r->lengths, cap * sizeof *l) : NULL;
        if (f)
            r->fields = f;
        if (!f || !l) {
            snprintf(r->error, sizeof r->error, "out of memory");
            return -1;
        }
        r->lengths = l;
        r->fields_cap = cap;
    }
    r->fields[r->nfields] = start;
    r->lengths[r->nfields] = len;
    r->nfields++;
    return 0;
}

/* Unescape the field starting at *p in place; leaves *p at the separator. */
static int split_field(slc_reader *r, char **p, size_t field_no)
{
    char *start = *p, *w = *p, *s = *p;

    if (s[0] == '\\' && s[1] == 'N' && (s[2] == '\t' || s[2] == '\0')) {
        *p = s + 2;
        return add_field(r, NULL, 0);
    }
    for (; *s && *s != '\t'; s++) {
        if (*s != '\\') {
            *w++ = *s;
            continue;
        }
        switch (*++s) {
        case '\\': *w++ = '\\'; break;
        case 't': *w++ = '\t'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case '\0':
            snprintf(r->error, sizeof r->error, "field %zu ends with a lone backslash", field_no);
            return -1;
        default:
            snprintf(r->error, sizeof r->error, "field %zu has an unknown escape \\%c", field_no, *s);
            return -1;
        }
    }
    *p = s;
    return add_field(r, start, (size_t)(w - start));
}

int slc_reader_next(slc_reader *r)
{
    errno = 0;
    ssize_t n = getline(&r->line, &r->line_cap, r->in);
    if (n < 0) {
        if (ferror(r->in)) {
            snprintf(r->error, sizeof r->error, "cannot read input: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    r->row++;
    if (n > 0 && r->line[n - 1] == '\n')
        r->line[--n] = '\0';
    if ((size_t)n != strlen(r->line)) {
        snprintf(r->error, sizeof r->error, "line contains a NUL byte");
        return -1;
    }

    r->nfields = 0;
    char *p = r->line;
    for (;;) {
        /* Fields are (start, length) pairs, so they need no terminator. */
        if (split_field(r, &p, r->nfields + 1) < 0)
            return -1;
        if (*p == '\0')
            return 1;
        p++; /* skip the tab */
    }
}

PyObject *slc_reader_tuple(const slc_reader *r)
{
    PyObject *row = PyTuple_New((Py_ssize_t)r->nfields);
    if (!row)
        return NULL;
    for (size_t i = 0; i < r->nfields; i++) {
        PyObject *v;
        if (r->fields[i]) {
            v = PyUnicode_DecodeUTF8(r->fields[i], (Py_ssize_t)r->lengths[i], "strict");
            if (!v) {
                Py_DECREF(row);
                return NULL;
            }
        } else {
            v = Py_NewRef(Py_None);
        }
        PyTuple_SET_ITEM(row, (Py_ssize_t)i, v);
    }
    return row;
}

static void write_escaped(FILE *out, const char *s, Py_ssize_t len)
{
    const char *run = s;
    for (const char *p = s; p < s + len; p++) {
        const char *esc;
        switch (*p) {
        case '\\': esc = "\\\\"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        default: continue;
        }
        fwrite(run, 1, (size_t)(p - run), out);
        fputs(esc, out);
        run = p + 1;
    }
    fwrite(run, 1, (size_t)(s + len - run), out);
}

int slc_write_row(FILE *out, PyObject *values)
{
    PyObject *seq = PySequence_Fast(values, "a row must be a sequence of values");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);

    /* Convert everything first so that an error never leaves half a row. */
    PyObject *strs = PyTuple_New(n);
    if (!strs)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = items[i] == Py_None ? Py_NewRef(Py_None) : PyObject_Str(items[i]);
        if (!s)
            goto fail;
        PyTuple_SET_ITEM(strs, i, s);
        if (s != Py_None && !PyUnicode_AsUTF8AndSize(s, NULL))
            goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(strs, i);
        if (i)
            fputc('\t', out);
        if (s == Py_None) {
            fputs("\\N", out);
        } else {
            Py_ssize_t len;
            const char *utf8 = PyUnicode_AsUTF8AndSize(s, &len);
            write_escaped(out, utf8, len);
        }
    }
    fputc('\n', out);
    Py_DECREF(strs);
    Py_DECREF(seq);
    if (ferror(out)) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;

fail:
    Py_XDECREF(strs);
    Py_DECREF(seq);
    return -1;
}
