/* sfu._rtpwrite: the per-subscriber end of the forwarding path, in C.
 *
 * Why C: in Python, rewriting a packet for one subscriber, SRTP-protecting it and handing it
 * to the kernel cost ~13 us of interpreter time per subscriber (bench/sfu.py, 128 streams),
 * more than the kernel's own work; a province meeting fans every packet out to dozens of
 * bridge points and browsers. Here one call fans a packet out to every steady subscriber of a
 * source, and the Python side (sfu/downtrack.py) keeps every decision: when to start, pause,
 * switch or resynchronise a stream, which offsets to use.
 *
 * An RtpWriter is one subscriber stream: its rewriting state (SSRC, payload type, sequence
 * number / timestamp / VP8 picture-id offsets, the sequence number it (re)started from, the
 * last values sent, counters for sender reports) and a reference to its session's RtpRoute.
 * An RtpRoute is one subscriber session's way out: a dup of the ICE socket's file
 * descriptor, the remote address, and the session's libsrtp context. Every stream of the
 * session shares it, so descriptors grow with sessions, not with down-tracks (a dup per
 * down-track ran a meeting of a few dozen points into the usual limit of 1,024). The dup
 * keeps the descriptor number from being reused by another socket while the route lives;
 * the reference to the pylibsrtp session keeps the libsrtp context alive.
 *
 * libsrtp is pylibsrtp's own copy: sfu/aiortc_hooks.py passes the address of its
 * srtp_protect() once (set_protect) after checking its C type, so aiortc's SRTP sessions are
 * used unchanged. The GIL is held throughout: srtp contexts are shared with aiortc's RTCP.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* pylibsrtp's session buffer is 1500 bytes and reserves 16 + 128 for the SRTP trailer;
 * packets it could not protect are not sent here either. */
#define MAX_PLAIN (1500 - 144)
#define BUFFER_SIZE (MAX_PLAIN + 144)

typedef int (*srtp_protect_fn)(void *ctx, void *rtp, int *length);
static srtp_protect_fn srtp_protect = NULL;

typedef struct {
    PyObject_HEAD
    int fd;
    struct sockaddr_storage address;
    socklen_t address_length;
    void *srtp;
    PyObject *session;
} RtpRoute;

typedef struct {
    PyObject_HEAD
    RtpRoute *route; /* NULL: not routed */
    /* rewriting */
    unsigned int ssrc;
    int payload_type;
    unsigned int seq_offset;
    unsigned int ts_offset;
    unsigned int pid_offset;
    long first_seq; /* -1: no gate */
    long last_seq;  /* -1: nothing sent yet */
    unsigned int last_ts;
    long last_pid;  /* -1: no picture id sent yet */
    double last_sent;
    unsigned long long packets;
    unsigned long long octets;
    unsigned long long drops;
} RtpWriter;

static double monotonic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void clear_route(RtpRoute *self) {
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    self->srtp = NULL;
    Py_CLEAR(self->session);
}

/* The packet as one subscriber receives it. Same packet fields for every writer of a fan-out. */
typedef struct {
    const unsigned char *tail; /* extension block + payload */
    Py_ssize_t tail_length;
    unsigned char first_byte; /* version, padding and extension bits */
    int marker;
    unsigned int seq;
    unsigned int ts;
    Py_ssize_t pid_position; /* VP8 picture id inside tail, -1: none */
    unsigned int pid;
    int pid_long;
} Packet;

/* 1: sent; 0: gated (older than the stream's start) or dropped (not routed, too large, SRTP
 * or socket error: counted in drops, NACK repair takes over). */
static int write_packet(RtpWriter *self, const Packet *packet, double now) {
    unsigned char buffer[BUFFER_SIZE];
    if (self->first_seq >= 0) {
        unsigned int first = (unsigned int)self->first_seq;
        if ((((first - packet->seq) & 0xFFFF) - 1) < 0x7FFF)
            return 0; /* from before the key frame this stream (re)started on */
        if (((packet->seq - first) & 0xFFFF) > 0x4000)
            /* keep the start marker within half the sequence space of the newest packet */
            self->first_seq = (packet->seq - 0x4000) & 0xFFFF;
    }
    Py_ssize_t size = 12 + packet->tail_length;
    RtpRoute *route = self->route;
    if (route == NULL || route->fd < 0 || route->srtp == NULL || size > MAX_PLAIN) {
        self->drops++;
        return 0;
    }
    unsigned int seq = (packet->seq + self->seq_offset) & 0xFFFF;
    unsigned int ts = packet->ts + self->ts_offset;
    buffer[0] = packet->first_byte; /* no CSRCs: they are dropped */
    buffer[1] = (unsigned char)(self->payload_type | (packet->marker ? 0x80 : 0));
    buffer[2] = seq >> 8;
    buffer[3] = seq & 0xFF;
    buffer[4] = ts >> 24;
    buffer[5] = (ts >> 16) & 0xFF;
    buffer[6] = (ts >> 8) & 0xFF;
    buffer[7] = ts & 0xFF;
    buffer[8] = self->ssrc >> 24;
    buffer[9] = (self->ssrc >> 16) & 0xFF;
    buffer[10] = (self->ssrc >> 8) & 0xFF;
    buffer[11] = self->ssrc & 0xFF;
    memcpy(buffer + 12, packet->tail, packet->tail_length);
    long pid = -1;
    if (packet->pid_position >= 0) {
        pid = (packet->pid + self->pid_offset) & 0x7FFF;
        unsigned char *at = buffer + 12 + packet->pid_position;
        if (self->pid_offset != 0) {
            if (packet->pid_long && packet->pid_position + 1 < packet->tail_length) {
                at[0] = 0x80 | (unsigned char)(pid >> 8);
                at[1] = pid & 0xFF;
            } else if (!packet->pid_long && packet->pid_position < packet->tail_length) {
                at[0] = pid & 0x7F;
            }
        }
    }
    int length = (int)size;
    if (srtp_protect(route->srtp, buffer, &length) != 0) {
        self->drops++;
        return 0;
    }
    if (sendto(route->fd, buffer, (size_t)length, MSG_DONTWAIT,
               (struct sockaddr *)&route->address, route->address_length) < 0) {
        self->drops++; /* EAGAIN: the kernel buffer is full; drop as a router would */
        return 0;
    }
    self->packets++;
    self->octets += (unsigned long long)packet->tail_length;
    if (self->last_seq < 0 || ((seq - (unsigned int)self->last_seq) & 0xFFFF) < 0x8000) {
        self->last_seq = seq;
        self->last_ts = ts;
        self->last_sent = now;
        if (pid >= 0)
            self->last_pid = pid;
    }
    return 1;
}

/* Arguments shared by write() and fan_out(), after the first: tail, first_byte, marker, seq,
 * ts, pid_position, pid, pid_long (sfu/packet.py, RtpView.wire). */
static int parse_packet(PyObject *const *args, Packet *packet) {
    if (!PyBytes_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "tail must be bytes, not %.100s", Py_TYPE(args[0])->tp_name);
        return -1;
    }
    packet->tail = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    packet->tail_length = PyBytes_GET_SIZE(args[0]);
    packet->first_byte = (unsigned char)(PyLong_AsUnsignedLongMask(args[1]) & 0xF0);
    packet->marker = PyObject_IsTrue(args[2]);
    packet->seq = (unsigned int)PyLong_AsUnsignedLongMask(args[3]) & 0xFFFF;
    packet->ts = (unsigned int)PyLong_AsUnsignedLongMask(args[4]);
    packet->pid_position = PyLong_AsSsize_t(args[5]);
    packet->pid = (unsigned int)PyLong_AsUnsignedLongMask(args[6]) & 0x7FFF;
    packet->pid_long = PyObject_IsTrue(args[7]);
    if (PyErr_Occurred())
        return -1;
    if ((packet->first_byte & 0xC0) != 0x80) {
        PyErr_SetString(PyExc_ValueError, "first_byte must carry RTP version 2");
        return -1;
    }
    if (packet->pid_position >= packet->tail_length) {
        PyErr_SetString(PyExc_ValueError, "pid_position is outside tail");
        return -1;
    }
    return 0;
}

static int check_protect(void) {
    if (srtp_protect == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_protect() has not been called");
        return -1;
    }
    return 0;
}

/* --- RtpWriter methods ----------------------------------------------------------------- */

static PyTypeObject RtpRouteType;

static PyObject *RtpWriter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    RtpWriter *self = (RtpWriter *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->first_seq = -1;
    self->last_seq = -1;
    self->last_pid = -1;
    return (PyObject *)self;
}

static void RtpWriter_dealloc(RtpWriter *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->route);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int RtpWriter_traverse(RtpWriter *self, visitproc visit, void *arg) {
    Py_VISIT(self->route);
    return 0;
}

static int RtpWriter_clear(RtpWriter *self) {
    Py_CLEAR(self->route);
    return 0;
}

/* --- RtpRoute methods ------------------------------------------------------------------ */

static PyObject *RtpRoute_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    RtpRoute *self = (RtpRoute *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->fd = -1;
    return (PyObject *)self;
}

static void RtpRoute_dealloc(RtpRoute *self) {
    PyObject_GC_UnTrack(self);
    clear_route(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int RtpRoute_traverse(RtpRoute *self, visitproc visit, void *arg) {
    Py_VISIT(self->session);
    return 0;
}

static int RtpRoute_clear(RtpRoute *self) {
    clear_route(self);
    return 0;
}

static PyObject *RtpRoute_set(RtpRoute *self, PyObject *args) {
    int fd;
    const char *host;
    int port;
    unsigned long long srtp;
    PyObject *session;
    if (!PyArg_ParseTuple(args, "isiKO:set", &fd, &host, &port, &srtp, &session))
        return NULL;
    struct sockaddr_storage address;
    socklen_t length;
    memset(&address, 0, sizeof(address));
    if (port <= 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "port %d is out of range", port);
        return NULL;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        length = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        length = sizeof(*v6);
    } else {
        PyErr_Format(PyExc_ValueError, "%.100s is not a numeric IPv4 or IPv6 address", host);
        return NULL;
    }
    if (srtp == 0) {
        PyErr_SetString(PyExc_ValueError, "srtp context is NULL");
        return NULL;
    }
    int copy = dup(fd);
    if (copy < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    clear_route(self);
    self->fd = copy;
    self->address = address;
    self->address_length = length;
    self->srtp = (void *)(uintptr_t)srtp;
    Py_INCREF(session);
    self->session = session;
    Py_RETURN_NONE;
}

static PyObject *RtpRoute_clear_method(RtpRoute *self, PyObject *unused) {
    clear_route(self);
    Py_RETURN_NONE;
}

static PyObject *RtpRoute_get_routed(RtpRoute *self, void *closure) {
    return PyBool_FromLong(self->fd >= 0);
}

static PyMethodDef RtpRoute_methods[] = {
    {"set", (PyCFunction)RtpRoute_set, METH_VARARGS,
     "set(fd, host, port, srtp_context, session): send on a dup of fd to (host, port), "
     "protected with the libsrtp context at address srtp_context (kept alive by session)."},
    {"clear", (PyCFunction)RtpRoute_clear_method, METH_NOARGS,
     "Close the duplicated descriptor and release the session: nothing is sent until set."},
    {NULL},
};

static PyGetSetDef RtpRoute_getset[] = {
    {"routed", (getter)RtpRoute_get_routed, NULL, "whether set() has given a route", NULL},
    {NULL},
};

static PyTypeObject RtpRouteType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sfu._rtpwrite.RtpRoute",
    .tp_doc = "One subscriber session's socket, address and SRTP context, shared by its writers.",
    .tp_basicsize = sizeof(RtpRoute),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = RtpRoute_new,
    .tp_dealloc = (destructor)RtpRoute_dealloc,
    .tp_traverse = (traverseproc)RtpRoute_traverse,
    .tp_clear = (inquiry)RtpRoute_clear,
    .tp_methods = RtpRoute_methods,
    .tp_getset = RtpRoute_getset,
};

static PyObject *RtpWriter_write(RtpWriter *self, PyObject *const *args, Py_ssize_t nargs) {
    Packet packet;
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "write() takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    if (check_protect() < 0 || parse_packet(args, &packet) < 0)
        return NULL;
    return PyBool_FromLong(write_packet(self, &packet, monotonic_now()));
}

static PyObject *RtpWriter_get_routed(RtpWriter *self, void *closure) {
    return PyBool_FromLong(self->route != NULL && self->route->fd >= 0);
}

static PyObject *RtpWriter_get_route(RtpWriter *self, void *closure) {
    if (self->route == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->route);
    return (PyObject *)self->route;
}

static int RtpWriter_set_route(RtpWriter *self, PyObject *value, void *closure) {
    if (value != NULL && value != Py_None && !PyObject_TypeCheck(value, &RtpRouteType)) {
        PyErr_Format(PyExc_TypeError, "route must be an RtpRoute or None, not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    RtpRoute *old = self->route;
    self->route = (value == NULL || value == Py_None) ? NULL : (RtpRoute *)value;
    Py_XINCREF(self->route);
    Py_XDECREF(old);
    return 0;
}

static PyMethodDef RtpWriter_methods[] = {
    {"write", (PyCFunction)(void (*)(void))RtpWriter_write, METH_FASTCALL,
     "write(tail, first_byte, marker, seq, ts, pid_position, pid, pid_long) -> sent: rewrite, "
     "protect and send one packet to this subscriber."},
    {NULL},
};

static PyMemberDef RtpWriter_members[] = {
    {"ssrc", T_UINT, offsetof(RtpWriter, ssrc), 0, "SSRC of the subscriber's sender"},
    {"payload_type", T_INT, offsetof(RtpWriter, payload_type), 0, "negotiated payload type"},
    {"seq_offset", T_UINT, offsetof(RtpWriter, seq_offset), 0, "added to sequence numbers"},
    {"ts_offset", T_UINT, offsetof(RtpWriter, ts_offset), 0, "added to timestamps"},
    {"pid_offset", T_UINT, offsetof(RtpWriter, pid_offset), 0, "added to VP8 picture ids"},
    {"first_seq", T_LONG, offsetof(RtpWriter, first_seq), 0,
     "source sequence number the stream (re)started from; older packets are not sent (-1: none)"},
    {"last_seq", T_LONG, offsetof(RtpWriter, last_seq), 0, "highest sequence number sent (-1: none)"},
    {"last_ts", T_UINT, offsetof(RtpWriter, last_ts), 0, "timestamp of last_seq"},
    {"last_pid", T_LONG, offsetof(RtpWriter, last_pid), 0, "picture id of last_seq (-1: none)"},
    {"last_sent", T_DOUBLE, offsetof(RtpWriter, last_sent), 0, "time.monotonic() of last_seq"},
    {"packets", T_ULONGLONG, offsetof(RtpWriter, packets), 0, "packets sent"},
    {"octets", T_ULONGLONG, offsetof(RtpWriter, octets), 0, "payload octets sent"},
    {"drops", T_ULONGLONG, offsetof(RtpWriter, drops), 0, "packets dropped (unrouted, too large, socket full)"},
    {NULL},
};

static PyGetSetDef RtpWriter_getset[] = {
    {"routed", (getter)RtpWriter_get_routed, NULL, "whether its route is set", NULL},
    {"route", (getter)RtpWriter_get_route, (setter)RtpWriter_set_route,
     "the RtpRoute this stream is sent on (shared by its session's streams), or None", NULL},
    {NULL},
};

static PyTypeObject RtpWriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sfu._rtpwrite.RtpWriter",
    .tp_doc = "One subscriber stream: rewriting state and route (see the module docstring).",
    .tp_basicsize = sizeof(RtpWriter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = RtpWriter_new,
    .tp_dealloc = (destructor)RtpWriter_dealloc,
    .tp_traverse = (traverseproc)RtpWriter_traverse,
    .tp_clear = (inquiry)RtpWriter_clear,
    .tp_methods = RtpWriter_methods,
    .tp_members = RtpWriter_members,
    .tp_getset = RtpWriter_getset,
};

/* --- module functions ------------------------------------------------------------------ */

static PyObject *fan_out(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Packet packet;
    if (nargs != 9) {
        PyErr_Format(PyExc_TypeError, "fan_out() takes 9 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *writers = args[0];
    if (!PyTuple_Check(writers)) {
        PyErr_SetString(PyExc_TypeError, "writers must be a tuple of RtpWriter");
        return NULL;
    }
    if (check_protect() < 0 || parse_packet(args + 1, &packet) < 0)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(writers);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyObject_TypeCheck(PyTuple_GET_ITEM(writers, i), &RtpWriterType)) {
            PyErr_Format(PyExc_TypeError, "writers[%zd] is not an RtpWriter", i);
            return NULL;
        }
    }
    double now = monotonic_now();
    long sent = 0;
    for (Py_ssize_t i = 0; i < count; i++)
        sent += write_packet((RtpWriter *)PyTuple_GET_ITEM(writers, i), &packet, now);
    return PyLong_FromLong(sent);
}

static PyObject *set_protect(PyObject *module, PyObject *arg) {
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "srtp_protect address is NULL");
        return NULL;
    }
    srtp_protect = (srtp_protect_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"fan_out", (PyCFunction)(void (*)(void))fan_out, METH_FASTCALL,
     "fan_out(writers, tail, first_byte, marker, seq, ts, pid_position, pid, pid_long) -> sent: "
     "write() to every writer of the tuple in one call."},
    {"set_protect", set_protect, METH_O,
     "set_protect(address): the address of libsrtp's srtp_protect(srtp_t, void *, int *)."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sfu._rtpwrite",
    .m_doc = "Rewrite, SRTP-protect and send forwarded RTP packets (see sfu/_rtpwrite.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rtpwrite(void) {
    if (PyType_Ready(&RtpWriterType) < 0 || PyType_Ready(&RtpRouteType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&RtpWriterType);
    if (PyModule_AddObject(m, "RtpWriter", (PyObject *)&RtpWriterType) < 0) {
        Py_DECREF(&RtpWriterType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&RtpRouteType);
    if (PyModule_AddObject(m, "RtpRoute", (PyObject *)&RtpRouteType) < 0) {
        Py_DECREF(&RtpRouteType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
