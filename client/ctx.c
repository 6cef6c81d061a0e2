/*
 * The ctx object passed to run(ctx), type slc.Context.
 *
 *   ctx[i]            value of column i (str or None), negative i counts from the end
 *   ctx["name"]       value of a column named with --columns
 *   ctx.name          the same, unless "name" is a method of ctx
 *   len(ctx), ctx.size()   number of columns of the current row
 *   ctx.columns       tuple of column names (empty without --columns)
 *   ctx.row_number    1-based number of the current input row (0 in finish())
 *   ctx.emit(*values) write one output row; None is written as NULL
 */
#include "slcclient.h"

#include <stddef.h>
#include <structmember.h> /* T_OBJECT_EX, T_ULONG, READONLY */

typedef struct {
    PyObject_HEAD
    PyObject *row;      /* tuple, or NULL when there is no current row */
    PyObject *columns;  /* tuple of str */
    PyObject *index;    /* dict: column name -> position */
    FILE *out;
    unsigned long row_number;
} SlcContext;

static PyObject *current_row(SlcContext *self)
{
    if (!self->row)
        PyErr_SetString(PyExc_RuntimeError, "ctx has no current row (finish() gets no input row)");
    return self->row;
}

static Py_ssize_t ctx_length(PyObject *op)
{
    PyObject *row = current_row((SlcContext *)op);
    return row ? PyTuple_GET_SIZE(row) : -1;
}

static PyObject *ctx_subscript(PyObject *op, PyObject *key)
{
    SlcContext *self = (SlcContext *)op;
    PyObject *row = current_row(self);
    if (!row)
        return NULL;

    if (PyUnicode_Check(key)) {
        PyObject *pos = PyDict_GetItemWithError(self->index, key);
        if (!pos) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_KeyError, "no column named %R (columns: %R)", key, self->columns);
            return NULL;
        }
        key = pos;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "ctx indices must be int or str, not %.100s",
                         Py_TYPE(key)->tp_name);
        }
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(row);
    if (i < 0)
        i += n;
    if (i < 0 || i >= n) {
        PyErr_Format(PyExc_IndexError, "column index out of range (row %lu has %zd columns)",
                     self->row_number, n);
        return NULL;
    }
    return Py_NewRef(PyTuple_GET_ITEM(row, i));
}

static PyObject *ctx_getattro(PyObject *op, PyObject *name)
{
    SlcContext *self = (SlcContext *)op;
    PyObject *v = PyObject_GenericGetAttr(op, name);
    if (v || !PyErr_ExceptionMatches(PyExc_AttributeError) || !self->row)
        return v;
    PyObject *pos = PyDict_GetItemWithError(self->index, name);
    if (!pos)
        return NULL; /* keep the AttributeError (or the lookup error) */
    PyErr_Clear();
    return ctx_subscript(op, name);
}

static PyObject *ctx_size(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = ctx_length(op);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *ctx_emit(PyObject *op, PyObject *args)
{
    SlcContext *self = (SlcContext *)op;
    if (PyTuple_GET_SIZE(args) == 0) {
        PyErr_SetString(PyExc_TypeError, "emit() needs at least one value");
        return NULL;
    }
    if (slc_write_row(self->out, args) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *ctx_repr(PyObject *op)
{
    SlcContext *self = (SlcContext *)op;
    if (!self->row)
        return PyUnicode_FromString("<slc.Context without row>");
    return PyUnicode_FromFormat("<slc.Context row %lu %R>", self->row_number, self->row);
}

static void ctx_dealloc(PyObject *op)
{
    SlcContext *self = (SlcContext *)op;
    Py_XDECREF(self->row);
    Py_XDECREF(self->columns);
    Py_XDECREF(self->index);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef ctx_methods[] = {
    {"size", ctx_size, METH_NOARGS, "Number of columns of the current row."},
    {"emit", ctx_emit, METH_VARARGS, "emit(*values): write one output row."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef ctx_members[] = {
    {"columns", T_OBJECT_EX, offsetof(SlcContext, columns), READONLY, "Column names."},
    {"row_number", T_ULONG, offsetof(SlcContext, row_number), READONLY, "Current row number."},
    {NULL, 0, 0, 0, NULL},
};

static PyMappingMethods ctx_as_mapping = {
    .mp_length = ctx_length,
    .mp_subscript = ctx_subscript,
};

static PyTypeObject SlcContext_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "slc.Context",
    .tp_basicsize = sizeof(SlcContext),
    .tp_dealloc = ctx_dealloc,
    .tp_repr = ctx_repr,
    .tp_as_mapping = &ctx_as_mapping,
    .tp_getattro = ctx_getattro,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Row context passed to run(ctx).",
    .tp_methods = ctx_methods,
    .tp_members = ctx_members,
};

PyObject *slc_ctx_new(PyObject *columns, FILE *out)
{
    /* The type must be ready even if the script never imports slc. */
    if (PyType_Ready(&SlcContext_Type) < 0)
        return NULL;
    SlcContext *self = PyObject_New(SlcContext, &SlcContext_Type);
    if (!self)
        return NULL;
    self->row = NULL;
    self->columns = Py_NewRef(columns);
    self->index = PyDict_New();
    self->out = out;
    self->row_number = 0;
    if (!self->index)
        goto fail;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(columns); i++) {
        PyObject *pos = PyLong_FromSsize_t(i);
        int rc = pos ? PyDict_SetItem(self->index, PyTuple_GET_ITEM(columns, i), pos) : -1;
        Py_XDECREF(pos);
        if (rc < 0)
            goto fail;
    }
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

void slc_ctx_set_row(PyObject *op, PyObject *row, unsigned long number)
{
    SlcContext *self = (SlcContext *)op;
    Py_XINCREF(row);
    Py_XSETREF(self->row, row);
    self->row_number = number;
}

static struct PyModuleDef slc_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "slc",
    .m_doc = "Runtime support for scripts run by slcclient.",
    .m_size = -1,
};

PyObject *slc_module_init(void)
{
    if (PyType_Ready(&SlcContext_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&slc_module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Context", (PyObject *)&SlcContext_Type) < 0 ||
        PyModule_AddStringConstant(m, "__version__", SLC_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "source_revision", slc_source_revision) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
