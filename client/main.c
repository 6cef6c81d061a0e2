/*
 * slcclient: run a user's Python script once per input row.
 *
 *   slcclient run SCRIPT [--columns a,b,...]   rows on stdin, rows on stdout
 *   slcclient --version
 *
 * The script defines run(ctx), called once per row, and optionally
 * finish(ctx), called once after the last row (it may emit, but has no row).
 * A value returned by run() other than None is emitted as a row (a tuple
 * becomes several columns).  print() goes to stderr so that it can never
 * corrupt the output rows.
 *
 * Exit status: 0 success, 1 script or input error, 2 usage error.
 */
#include "slcclient.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: slcclient run SCRIPT [--columns NAME,...]\n"
    "       slcclient --version\n"
    "\n"
    "Runs run(ctx) of the Python script SCRIPT once per tab-separated row on\n"
    "stdin; ctx.emit(*values) writes a row to stdout.\n";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "slcclient: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Report the pending Python exception with a traceback and exit 1. */
static void fail_python(const char *what) __attribute__((noreturn));
static void fail_python(const char *what)
{
    fflush(stdout);
    if (!PyErr_ExceptionMatches(PyExc_SystemExit))
        fprintf(stderr, "slcclient: %s\n", what);
    PyErr_Print(); /* traceback; for SystemExit it exits with the script's code */
    exit(1);
}

static PyObject *parse_columns(const char *csv)
{
    if (!csv)
        return PyTuple_New(0);
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    const char *p = csv;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            fail("--columns: empty column name in \"%s\"", csv);
        PyObject *name = PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "strict");
        if (!name || PyList_Append(list, name) < 0)
            fail_python("--columns: invalid column name");
        Py_DECREF(name);
        if (!end)
            break;
        p = end + 1;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail("cannot open script %s: %s", path, strerror(errno));
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            fail("out of memory reading %s", path);
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f))
        fail("cannot read script %s: %s", path, strerror(errno));
    fclose(f);
    buf[len] = '\0';
    if (strlen(buf) != len)
        fail("script %s contains a NUL byte", path);
    return buf;
}

static void init_python(const char *script)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    char *argv[] = {(char *)script};
    PyStatus status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    /* Like "python SCRIPT": the script's directory comes first on sys.path.
     * print() output goes to stderr; stdout carries only rows. */
    PyObject *globals = PyDict_New();
    PyObject *path = PyUnicode_DecodeFSDefault(script);
    if (!globals || !path || PyDict_SetItemString(globals, "script", path) < 0)
        fail_python("cannot set up the interpreter");
    PyObject *r = PyRun_String(
        "import os, sys\n"
        "sys.path.insert(0, os.path.dirname(os.path.abspath(script)))\n"
        "sys.stdout = sys.stderr\n",
        Py_file_input, globals, globals);
    if (!r)
        fail_python("cannot set up the interpreter");
    Py_DECREF(r);
    Py_DECREF(path);
    Py_DECREF(globals);
}

/* Load the script into __main__; returns the module's dict (borrowed). */
static PyObject *load_script(const char *script)
{
    char *source = read_file(script);
    PyObject *code = Py_CompileString(source, script, Py_file_input);
    free(source);
    if (!code)
        fail_python("cannot compile the script");

    PyObject *main_mod = PyImport_AddModule("__main__");
    PyObject *globals = main_mod ? PyModule_GetDict(main_mod) : NULL;
    PyObject *file = PyUnicode_DecodeFSDefault(script);
    if (!globals || !file || PyDict_SetItemString(globals, "__file__", file) < 0)
        fail_python("cannot set up __main__");
    Py_DECREF(file);

    PyObject *r = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (!r)
        fail_python("error while loading the script");
    Py_DECREF(r);
    return globals;
}

/* Call fn(ctx); a non-None result is emitted as a row. */
static void call(PyObject *fn, PyObject *ctx, const char *what)
{
    PyObject *r = PyObject_CallOneArg(fn, ctx);
    if (r && r != Py_None) {
        PyObject *row = PyTuple_Check(r) ? Py_NewRef(r) : PyTuple_Pack(1, r);
        if (!row || slc_write_row(stdout, row) < 0)
            Py_CLEAR(r);
        Py_XDECREF(row);
    }
    if (!r)
        fail_python(what);
    Py_DECREF(r);
}

static int cmd_run(const char *script, const char *columns_csv)
{
    static char stdout_buf[1 << 16];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);

    init_python(script);
    PyObject *columns = parse_columns(columns_csv);
    if (!columns)
        fail_python("--columns: cannot parse");
    PyObject *globals = load_script(script);

    PyObject *run = PyDict_GetItemString(globals, "run");
    PyObject *finish = PyDict_GetItemString(globals, "finish");
    if (!run || !PyCallable_Check(run))
        fail("%s does not define a function run(ctx)", script);
    if (finish && !PyCallable_Check(finish))
        fail("%s: finish is not callable", script);

    PyObject *ctx = slc_ctx_new(columns, stdout);
    if (!ctx)
        fail_python("cannot create the row context");

    slc_reader reader;
    slc_reader_init(&reader, stdin);
    char what[128];
    int rc;
    while ((rc = slc_reader_next(&reader)) > 0) {
        Py_ssize_t want = PyTuple_GET_SIZE(columns);
        if (want && (Py_ssize_t)reader.nfields != want)
            fail("input row %lu has %zu fields, --columns names %zd", reader.row, reader.nfields, want);
        snprintf(what, sizeof what, "input row %lu: cannot decode (input must be UTF-8)", reader.row);
        PyObject *row = slc_reader_tuple(&reader);
        if (!row)
            fail_python(what);
        slc_ctx_set_row(ctx, row, reader.row);
        Py_DECREF(row);
        snprintf(what, sizeof what, "run() failed at input row %lu of %s:", reader.row, script);
        call(run, ctx, what);
    }
    if (rc < 0)
        fail("input row %lu: %s", reader.row, reader.error);
    slc_ctx_set_row(ctx, NULL, 0);
    if (finish) {
        snprintf(what, sizeof what, "finish() failed in %s:", script);
        call(finish, ctx, what);
    }

    slc_reader_free(&reader);
    Py_DECREF(ctx);
    Py_DECREF(columns);
    if (Py_FinalizeEx() < 0)
        fail("error while shutting down Python");
    if (fflush(stdout) != 0 || ferror(stdout))
        fail("cannot write output: %s", strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    const char *script = NULL, *columns = NULL;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("slcclient %s (source %s)\n", SLC_VERSION, slc_source_revision);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "run") != 0)
        goto usage_error;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc)
            columns = argv[++i];
        else if (strncmp(argv[i], "--columns=", 10) == 0)
            columns = argv[i] + 10;
        else if (argv[i][0] == '-' || script)
            goto usage_error;
        else
            script = argv[i];
    }
    if (!script)
        goto usage_error;

    if (PyImport_AppendInittab("slc", slc_module_init) < 0)
        fail("cannot register the slc module");
    return cmd_run(script, columns);

usage_error:
    fputs(usage, stderr);
    return 2;
}
