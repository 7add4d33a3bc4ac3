/*
 * pjrt_test_plugin.c: a TEST DOUBLE of the PJRT C API, for testing XlaGen's PJRT binding without a real plugin.
 *
 * It is not XLA and computes nothing. It implements the calls XlaGen makes faithfully enough to check the binding:
 * it checks every struct_size it receives against the header's numbers (answering INVALID_ARGUMENT
 * "Unexpected X size: expected N, got M" as real plugins do), validates client create options by name and type,
 * keeps buffers in malloc'd host memory, completes events (on a thread when async mode is on), records the program
 * format and compile-options bytes it is given, and "executes" identity programs only: a module whose entry root is
 * one of its parameters or a tuple of parameters; each output is a copy of (or, when donated, the very memory of) the
 * parameter it names, on each of the num_devices argument lists it gets (a replicated program: one list per replica,
 * each list's buffers on one device). Its default device assignment puts replica r on the devices in reverse order
 * (ids 11, 10), so a caller that ignores the assignment is caught. Counters of live objects and of objects destroyed
 * twice are exported for the tests.
 *
 * It uses no PJRT header: structs are read and written at byte offsets, the numbers XlaGen's layout table holds
 * (src/Runtime/Backends/Pjrt/PjrtLayout.cs; measured from openxla/xla@0882740a xla/pjrt/c/pjrt_c_api.h, API 0.94).
 * Build: gcc -shared -fPIC -O1 -pthread pjrt_test_plugin.c pjrt_test_plugin_hlo.c -o libpjrt_test_plugin.so
 * Variants (for loader tests): -DTEST_MAJOR=1, -DTEST_API_SIZE=200, -DTEST_CREATE_SIZE=96.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TEST_MAJOR
#define TEST_MAJOR 0
#endif
#ifndef TEST_MINOR
#define TEST_MINOR 94
#endif
#ifndef TEST_API_SIZE
#define TEST_API_SIZE 1072
#endif
#ifndef TEST_CREATE_SIZE
#define TEST_CREATE_SIZE 88
#endif

#define AT(p, off, T) (*(T*)((char*)(p) + (off)))
#define SIZE(p) AT(p, 0, size_t)

/* ------------------------------------------------------------------ counters */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long live_errors, live_events, live_buffers, live_clients, live_executables, live_loaded, destroyed_twice;
static long total_errors;
static int async_mode;
static char fail_function[128];
static int fail_code;
static char fail_message[256];
static unsigned char* last_options;
static size_t last_options_size;
static char last_format[32];
static char last_create_options[512];
static int64_t last_non_donatable[64];
static long last_num_non_donatable = -1;
static long last_num_devices = -1;
static int last_list_device[8];

long test_plugin_counter(const char* name) {
  long v = -1;
  pthread_mutex_lock(&gate);
  if (!strcmp(name, "live_errors")) v = live_errors;
  else if (!strcmp(name, "live_events")) v = live_events;
  else if (!strcmp(name, "live_buffers")) v = live_buffers;
  else if (!strcmp(name, "live_clients")) v = live_clients;
  else if (!strcmp(name, "live_executables")) v = live_executables;
  else if (!strcmp(name, "live_loaded_executables")) v = live_loaded;
  else if (!strcmp(name, "destroyed_twice")) v = destroyed_twice;
  else if (!strcmp(name, "total_errors")) v = total_errors;
  else if (!strcmp(name, "num_non_donatable")) v = last_num_non_donatable;
  else if (!strcmp(name, "num_devices")) v = last_num_devices;
  else if (!strcmp(name, "list_device_0")) v = last_list_device[0];
  else if (!strcmp(name, "list_device_1")) v = last_list_device[1];
  pthread_mutex_unlock(&gate);
  return v;
}
void test_plugin_set_async(int on) { async_mode = on; }
void test_plugin_fail_next(const char* function, int code, const char* message) {
  pthread_mutex_lock(&gate);
  snprintf(fail_function, sizeof fail_function, "%s", function);
  fail_code = code;
  snprintf(fail_message, sizeof fail_message, "%s", message);
  pthread_mutex_unlock(&gate);
}
size_t test_plugin_last_compile_options(unsigned char* dst, size_t capacity) {
  if (dst && last_options) memcpy(dst, last_options, last_options_size < capacity ? last_options_size : capacity);
  return last_options_size;
}
const char* test_plugin_last_format(void) { return last_format; }
const char* test_plugin_last_create_options(void) { return last_create_options; }
int64_t test_plugin_non_donatable(int i) { return i < last_num_non_donatable ? last_non_donatable[i] : -1; }

/* ------------------------------------------------------------------ errors */
typedef struct { int code; char* message; int destroyed; } Err;

static void* error(int code, const char* format, ...) {
  Err* e = calloc(1, sizeof(Err));
  char text[512];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  e->code = code;
  e->message = strdup(text);
  pthread_mutex_lock(&gate);
  live_errors++;
  total_errors++;
  pthread_mutex_unlock(&gate);
  return e;
}

static void* check_size(void* args, size_t expected, const char* name) {
  if (args == NULL) return error(3, "%s is null", name);
  if (SIZE(args) < expected)
    return error(3, "Unexpected %s size: expected %zu, got %zu. Check installed software versions.", name, expected, SIZE(args));
  return NULL;
}

static void* injected(const char* function) {
  void* e = NULL;
  pthread_mutex_lock(&gate);
  size_t len = strlen(fail_function);
  int hit = len && !strncmp(fail_function, function, len) && (!function[len] || !strcmp(function + len, "_Args"));
  int code = fail_code;
  char message[256];
  snprintf(message, sizeof message, "%s", fail_message);
  if (hit) fail_function[0] = 0;
  pthread_mutex_unlock(&gate);
  if (hit) e = error(code, "%s", message);
  return e;
}

#define CHECK(args, size, name)                     \
  do {                                              \
    void* e_ = check_size(args, size, name);        \
    if (!e_) e_ = injected(name);               \
    if (e_) return e_;                              \
  } while (0)

static void Error_Destroy(void* a) {
  Err* e = AT(a, 16, Err*);
  if (!e) return;
  pthread_mutex_lock(&gate);
  if (e->destroyed) destroyed_twice++;
  else { e->destroyed = 1; live_errors--; }
  pthread_mutex_unlock(&gate);
}
static void Error_Message(void* a) {
  Err* e = AT(a, 16, Err*);
  AT(a, 24, const char*) = e->message;
  AT(a, 32, size_t) = strlen(e->message);
}
static void* Error_GetCode(void* a) {
  AT(a, 24, int) = AT(a, 16, Err*)->code;
  return NULL;
}

/* ------------------------------------------------------------------ events */
typedef void (*Callback)(void* error, void* user);
typedef struct { int ready, destroyed; int code; char* message; Callback callbacks[8]; void* users[8]; int n; } Ev;

static Ev* new_event(void) {
  Ev* ev = calloc(1, sizeof(Ev));
  pthread_mutex_lock(&gate);
  live_events++;
  pthread_mutex_unlock(&gate);
  return ev;
}
static void* event_error(Ev* ev) { return ev->code ? error(ev->code, "%s", ev->message) : NULL; }

static void complete(Ev* ev, int code, const char* message) {
  pthread_mutex_lock(&gate);
  ev->code = code;
  ev->message = message ? strdup(message) : NULL;
  ev->ready = 1;
  int n = ev->n;
  ev->n = 0;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&gate);
  for (int i = 0; i < n; i++) ev->callbacks[i](event_error(ev), ev->users[i]);
}

static void* Event_Destroy(void* a) {
  CHECK(a, 24, "PJRT_Event_Destroy_Args");
  Ev* ev = AT(a, 16, Ev*);
  if (!ev) return NULL;
  pthread_mutex_lock(&gate);
  if (ev->destroyed) destroyed_twice++;
  else { ev->destroyed = 1; live_events--; }
  pthread_mutex_unlock(&gate);
  return NULL;
}
static void* Event_IsReady(void* a) {
  CHECK(a, 25, "PJRT_Event_IsReady_Args");
  AT(a, 24, bool) = AT(a, 16, Ev*)->ready;
  return NULL;
}
static void* Event_Await(void* a) {
  CHECK(a, 24, "PJRT_Event_Await_Args");
  Ev* ev = AT(a, 16, Ev*);
  pthread_mutex_lock(&gate);
  while (!ev->ready) pthread_cond_wait(&changed, &gate);
  pthread_mutex_unlock(&gate);
  return event_error(ev);
}
static void* Event_OnReady(void* a) {
  CHECK(a, 40, "PJRT_Event_OnReady_Args");
  Ev* ev = AT(a, 16, Ev*);
  Callback cb = AT(a, 24, Callback);
  void* user = AT(a, 32, void*);
  pthread_mutex_lock(&gate);
  if (!ev->ready) {
    if (ev->n == 8) { pthread_mutex_unlock(&gate); return error(8, "test double: too many callbacks on one event"); }
    ev->callbacks[ev->n] = cb;
    ev->users[ev->n++] = user;
    pthread_mutex_unlock(&gate);
    return NULL;
  }
  pthread_mutex_unlock(&gate);
  cb(event_error(ev), user);
  return NULL;
}

/* A copy that completes an event, now or on a thread (async mode). */
typedef struct { void* dst; const void* src; size_t n; Ev* ev; Ev* also; } Job;
static void* run_job(void* p) {
  Job* j = p;
  usleep(2000);
  memcpy(j->dst, j->src, j->n);
  if (j->also) complete(j->also, 0, NULL);
  complete(j->ev, 0, NULL);
  free(j);
  return NULL;
}
static void copy_then_complete(void* dst, const void* src, size_t n, Ev* ev, Ev* also) {
  Job* j = malloc(sizeof(Job));
  *j = (Job){dst, src, n, ev, also};
  pthread_t t;
  if (async_mode && pthread_create(&t, NULL, run_job, j) == 0) {
    pthread_detach(t);
    return;
  }
  memcpy(dst, src, n);
  if (also) complete(also, 0, NULL);
  complete(ev, 0, NULL);
  free(j);
}

/* ------------------------------------------------------------------ plugin, client, devices */
static int64_t stablehlo_version[3] = {1, 9, 0};
static char named_values[3][56];
static void* Plugin_Initialize(void* a) { CHECK(a, 16, "PJRT_Plugin_Initialize_Args"); return NULL; }
static void set_named(void* nv, const char* name, int type) {
  memset(nv, 0, 56);
  SIZE(nv) = 56;
  AT(nv, 16, const char*) = name;
  AT(nv, 24, size_t) = strlen(name);
  AT(nv, 32, int) = type;
  AT(nv, 48, size_t) = 1;
}
static void* Plugin_Attributes(void* a) {
  CHECK(a, 32, "PJRT_Plugin_Attributes_Args");
  set_named(named_values[0], "xla_version", 1);
  AT(named_values[0], 40, int64_t) = 2;
  set_named(named_values[1], "stablehlo_current_version", 2);
  AT(named_values[1], 40, int64_t*) = stablehlo_version;
  AT(named_values[1], 48, size_t) = 3;
  set_named(named_values[2], "test_double", 4);
  AT(named_values[2], 40, bool) = true;
  AT(a, 16, void*) = named_values;
  AT(a, 24, size_t) = 3;
  return NULL;
}

typedef struct Client Client;
typedef struct { Client* client; int index, id; char device_attrs[2][56]; } Device;
struct Client { Device devices[2]; Device* pointers[2]; int destroyed; };
typedef struct { int destroyed, deleted; int type; int64_t dims[8]; int ndims; size_t bytes; void* data; Device* device; Ev* upload; } Buf;

static size_t type_size(int t) {
  switch (t) {
    case 1: case 2: case 6: return 1;
    case 3: case 7: case 10: case 13: return 2;
    case 4: case 8: case 11: return 4;
    case 5: case 9: case 12: case 14: return 8;
    case 15: return 16;
    default: return 0;
  }
}

/* ------------------------------------------------------------------ key-value store (multi-process clients)
 * What a real plugin's distributed runtime does with PJRT_Client_Create's kv callbacks, in small: publish this node's
 * "topology" with kv_put, read every node's with a blocking kv_get (copy, then call the value's deleter), and check
 * that kv_try_get of a key nobody wrote fails NOT_FOUND. Errors come from the plugin's own PJRT_CallbackError and are
 * returned from Client_Create, as a real plugin propagates them. Offsets: PJRT_KeyValueGetCallback_Args (80),
 * PJRT_KeyValueTryGetCallback_Args (72), PJRT_KeyValuePutCallback_Args (64). */
static char last_topology[512];
const char* test_plugin_last_topology(void) { return last_topology; }
static void* make_callback_error(int code, const char* message, size_t size) { return error(code, "%.*s", (int)size, message); }
static void* (*callback_error)(int, const char*, size_t) = make_callback_error;
typedef void* (*KvFn)(void*);
typedef void (*Deleter)(char*);

static void* distributed_init(void* a, int64_t node_id, int64_t num_nodes) {
  KvFn get = AT(a, 32, KvFn), put = AT(a, 48, KvFn), try_get = AT(a, 72, KvFn);
  if (!get || !put || !try_get) return error(9, "num_nodes %ld needs all three key-value callbacks (kv_get, kv_put, kv_try_get)", (long)num_nodes);
  char key[64], value[64];
  snprintf(key, sizeof key, "test_plugin:topology/%ld", (long)node_id);
  snprintf(value, sizeof value, "node %ld of %ld", (long)node_id, (long)num_nodes);
  unsigned char p[64] = {0};
  AT(p, 0, size_t) = 64;
  AT(p, 16, const char*) = key; AT(p, 24, size_t) = strlen(key);
  AT(p, 32, const char*) = value; AT(p, 40, size_t) = strlen(value);
  AT(p, 48, void*) = &callback_error; AT(p, 56, void*) = AT(a, 56, void*);
  void* e = put(p);
  if (e) return e;
  char summary[512] = "";
  for (int64_t j = 0; j < num_nodes; j++) {
    unsigned char g[80] = {0};
    snprintf(key, sizeof key, "test_plugin:topology/%ld", (long)j);
    AT(g, 0, size_t) = 80;
    AT(g, 16, const char*) = key; AT(g, 24, size_t) = strlen(key);
    AT(g, 32, int) = 20000;
    AT(g, 40, void*) = &callback_error; AT(g, 48, void*) = AT(a, 40, void*);
    e = get(g);
    if (e) return e;
    size_t at = strlen(summary);
    snprintf(summary + at, sizeof summary - at, "%s%.*s", j ? "|" : "", (int)AT(g, 64, size_t), AT(g, 56, char*));
    AT(g, 72, Deleter)(AT(g, 56, char*));
  }
  unsigned char t[72] = {0};
  AT(t, 0, size_t) = 72;
  AT(t, 16, const char*) = "test_plugin:nobody-wrote-this"; AT(t, 24, size_t) = strlen("test_plugin:nobody-wrote-this");
  AT(t, 32, void*) = &callback_error; AT(t, 40, void*) = AT(a, 80, void*);
  e = try_get(t);
  if (!e) return error(13, "kv_try_get of a missing key succeeded");
  int code = ((Err*)e)->code;
  Error_Destroy(&(struct { size_t s; void* x; Err* e; }){24, NULL, e});
  if (code != 5) return error(13, "kv_try_get of a missing key failed with code %d, not NOT_FOUND (5)", code);
  pthread_mutex_lock(&gate);
  snprintf(last_topology, sizeof last_topology, "%s", summary);
  pthread_mutex_unlock(&gate);
  return NULL;
}

static void* Client_Create(void* a) {
  CHECK(a, TEST_CREATE_SIZE, "PJRT_Client_Create_Args");
  const char* opts = AT(a, 16, const char*);
  size_t n = AT(a, 24, size_t);
  char summary[512] = "";
  int64_t node_id = 0, num_nodes = 1;
  for (size_t i = 0; i < n; i++) {
    const char* nv = opts + i * 56;
    void* e = check_size((void*)nv, 56, "PJRT_NamedValue");
    if (e) return e;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)AT(nv, 24, size_t), AT(nv, 16, const char*));
    int type = AT(nv, 32, int);
    int want = !strcmp(name, "platform_name") || !strcmp(name, "allocator") ? 0
             : !strcmp(name, "memory_fraction") ? 3 : !strcmp(name, "preallocate") ? 4
             : !strcmp(name, "visible_devices") ? 2
             : !strcmp(name, "node_id") || !strcmp(name, "num_nodes") ? 1 : -1;
    if (want < 0) return error(3, "Unknown option name '%s' (the test double accepts platform_name, allocator, memory_fraction, preallocate, visible_devices, node_id, num_nodes)", name);
    if (!strcmp(name, "node_id")) node_id = AT(nv, 40, int64_t);
    if (!strcmp(name, "num_nodes")) num_nodes = AT(nv, 40, int64_t);
    if (type != want) return error(3, "Option '%s' has type %d, expected %d", name, type, want);
    char value[128];
    switch (type) {
      case 0: snprintf(value, sizeof value, "s:%.*s", (int)AT(nv, 48, size_t), AT(nv, 40, const char*)); break;
      case 3: snprintf(value, sizeof value, "f:%g", AT(nv, 40, float)); break;
      case 4: snprintf(value, sizeof value, "b:%d", AT(nv, 40, bool) ? 1 : 0); break;
      case 1: snprintf(value, sizeof value, "i:%ld", (long)AT(nv, 40, int64_t)); break;
      default: {
        int at = snprintf(value, sizeof value, "l:");
        for (size_t k = 0; k < AT(nv, 48, size_t) && at < 100; k++)
          at += snprintf(value + at, sizeof value - at, k ? ",%ld" : "%ld", (long)AT(nv, 40, int64_t*)[k]);
      }
    }
    if (!strcmp(name, "allocator") && strcmp(value, "s:default") && strcmp(value, "s:platform") && strcmp(value, "s:bfc") && strcmp(value, "s:cuda_async"))
      return error(3, "Allocator %s is not default, platform, bfc or cuda_async", value + 2);
    size_t at = strlen(summary);
    snprintf(summary + at, sizeof summary - at, "%s%s=%s", at ? ";" : "", name, value);
  }
  snprintf(last_create_options, sizeof last_create_options, "%s", summary);
  if (num_nodes > 1) {
    void* e = distributed_init(a, node_id, num_nodes);
    if (e) return e;
  }
  Client* c = calloc(1, sizeof(Client));
  for (int i = 0; i < 2; i++) {
    c->devices[i] = (Device){.client = c, .index = i, .id = 10 + i};
    set_named(c->devices[i].device_attrs[0], "core_count", 1);
    AT(c->devices[i].device_attrs[0], 40, int64_t) = 1;
    set_named(c->devices[i].device_attrs[1], "coords", 0);
    AT(c->devices[i].device_attrs[1], 40, const char*) = i ? "1,0" : "0,0";
    AT(c->devices[i].device_attrs[1], 48, size_t) = 3;
    c->pointers[i] = &c->devices[i];
  }
  pthread_mutex_lock(&gate);
  live_clients++;
  pthread_mutex_unlock(&gate);
  AT(a, 64, Client*) = c;
  return NULL;
}
static void* Client_Destroy(void* a) {
  CHECK(a, 24, "PJRT_Client_Destroy_Args");
  Client* c = AT(a, 16, Client*);
  if (!c) return NULL;
  pthread_mutex_lock(&gate);
  if (c->destroyed) destroyed_twice++;
  else { c->destroyed = 1; live_clients--; }
  pthread_mutex_unlock(&gate);
  return NULL;
}
static void* string_out(void* a, const char* text) { AT(a, 24, const char*) = text; AT(a, 32, size_t) = strlen(text); return NULL; }
static void* Client_PlatformName(void* a) { CHECK(a, 40, "PJRT_Client_PlatformName_Args"); return string_out(a, "testpjrt"); }
static void* Client_PlatformVersion(void* a) { CHECK(a, 40, "PJRT_Client_PlatformVersion_Args"); return string_out(a, "test double 1"); }
static void* Client_ProcessIndex(void* a) { CHECK(a, 28, "PJRT_Client_ProcessIndex_Args"); AT(a, 24, int) = 0; return NULL; }
static void* Client_AddressableDevices(void* a) {
  CHECK(a, 40, "PJRT_Client_AddressableDevices_Args");
  Client* c = AT(a, 16, Client*);
  AT(a, 24, Device**) = c->pointers;
  AT(a, 32, size_t) = 2;
  return NULL;
}
static void* Device_GetDescription(void* a) { CHECK(a, 32, "PJRT_Device_GetDescription_Args"); AT(a, 24, void*) = AT(a, 16, void*); return NULL; }
static void* DeviceDescription_Id(void* a) { CHECK(a, 28, "PJRT_DeviceDescription_Id_Args"); AT(a, 24, int) = AT(a, 16, Device*)->id; return NULL; }
static void* DeviceDescription_ProcessIndex(void* a) { CHECK(a, 28, "PJRT_DeviceDescription_ProcessIndex_Args"); AT(a, 24, int) = 0; return NULL; }
static void* DeviceDescription_Kind(void* a) { CHECK(a, 40, "PJRT_DeviceDescription_Kind_Args"); return string_out(a, "XlaGen PJRT test double"); }
static void* DeviceDescription_Attributes(void* a) {
  CHECK(a, 40, "PJRT_DeviceDescription_Attributes_Args");
  AT(a, 24, size_t) = 2;
  AT(a, 32, void*) = AT(a, 16, Device*)->device_attrs;
  return NULL;
}
static size_t bytes_in_use(Device* d);
static void* Device_MemoryStats(void* a) {
  CHECK(a, 185, "PJRT_Device_MemoryStats_Args");
  AT(a, 24, int64_t) = (int64_t)bytes_in_use(AT(a, 16, Device*));
  AT(a, 80, int64_t) = 1 << 30;
  AT(a, 88, bool) = true;
  return NULL;
}

/* ------------------------------------------------------------------ buffers */
#define MAX_BUFFERS 4096
static Buf* all_buffers[MAX_BUFFERS];
static int num_buffers;

static Buf* new_buffer(Device* d, int type, const int64_t* dims, int ndims) {
  Buf* b = calloc(1, sizeof(Buf));
  b->type = type;
  b->ndims = ndims;
  b->bytes = type_size(type);
  for (int i = 0; i < ndims; i++) { b->dims[i] = dims[i]; b->bytes *= (size_t)dims[i]; }
  b->data = malloc(b->bytes ? b->bytes : 1);
  b->device = d;
  pthread_mutex_lock(&gate);
  live_buffers++;
  if (num_buffers < MAX_BUFFERS) all_buffers[num_buffers++] = b;
  pthread_mutex_unlock(&gate);
  return b;
}
static size_t bytes_in_use(Device* d) {
  size_t n = 0;
  pthread_mutex_lock(&gate);
  for (int i = 0; i < num_buffers; i++)
    if (!all_buffers[i]->destroyed && !all_buffers[i]->deleted && all_buffers[i]->device == d) n += all_buffers[i]->bytes;
  pthread_mutex_unlock(&gate);
  return n;
}

static void* Client_BufferFromHostBuffer(void* a) {
  CHECK(a, 120, "PJRT_Client_BufferFromHostBuffer_Args");
  int type = AT(a, 32, int);
  int ndims = (int)AT(a, 48, size_t);
  if (type_size(type) == 0) return error(3, "test double: unsupported PJRT_Buffer_Type %d", type);
  if (ndims > 8) return error(3, "test double: rank %d is above 8", ndims);
  if (AT(a, 56, void*) != NULL || AT(a, 64, size_t) != 0) return error(12, "test double: byte_strides are not supported");
  if (AT(a, 72, int) != 1) return error(3, "test double: expected kImmutableUntilTransferCompletes (1), got %d", AT(a, 72, int));
  Device* d = AT(a, 80, Device*);
  if (!d) return error(3, "test double: no device given");
  for (int i = 0; i < ndims; i++) if (AT(a, 40, int64_t*)[i] < 0) return error(3, "negative dimension");
  Buf* b = new_buffer(d, type, AT(a, 40, int64_t*), ndims);
  Ev* done = new_event();
  b->upload = calloc(1, sizeof(Ev)); /* internal: not handed out, not counted */
  copy_then_complete(b->data, AT(a, 24, const void*), b->bytes, done, b->upload);
  AT(a, 104, Ev*) = done;
  AT(a, 112, Buf*) = b;
  return NULL;
}
static void* Buffer_Destroy(void* a) {
  CHECK(a, 24, "PJRT_Buffer_Destroy_Args");
  Buf* b = AT(a, 16, Buf*);
  if (!b) return NULL;
  pthread_mutex_lock(&gate);
  if (b->destroyed) destroyed_twice++;
  else { b->destroyed = 1; live_buffers--; }
  pthread_mutex_unlock(&gate);
  return NULL;
}
static void* Buffer_ReadyEvent(void* a) {
  CHECK(a, 32, "PJRT_Buffer_ReadyEvent_Args");
  Buf* b = AT(a, 16, Buf*);
  Ev* ev = new_event();
  if (b->deleted) { complete(ev, 9, "Buffer has been deleted or donated."); }
  else if (!b->upload) complete(ev, 0, NULL);
  else {
    pthread_mutex_lock(&gate);
    while (!b->upload->ready) pthread_cond_wait(&changed, &gate);
    pthread_mutex_unlock(&gate);
    complete(ev, 0, NULL);
  }
  AT(a, 24, Ev*) = ev;
  return NULL;
}
static void* Buffer_ToHostBuffer(void* a) {
  CHECK(a, 56, "PJRT_Buffer_ToHostBuffer_Args");
  Buf* b = AT(a, 16, Buf*);
  if (b->destroyed || b->deleted) return error(9, "Buffer has been deleted or donated.");
  void* layout = AT(a, 24, void*);
  if (layout) {
    void* e = check_size(layout, 76, "PJRT_Buffer_MemoryLayout");
    if (e) return e;
    if (AT(layout, 72, int) != 0) return error(12, "test double: only tiled host layouts");
    void* tiled = (char*)layout + 16;
    if ((e = check_size(tiled, 56, "PJRT_Buffer_MemoryLayout_Tiled"))) return e;
    if ((int)AT(tiled, 24, size_t) != b->ndims) return error(3, "host layout has %zu dims, buffer %d", AT(tiled, 24, size_t), b->ndims);
    for (int i = 0; i < b->ndims; i++)
      if (AT(tiled, 16, int64_t*)[i] != b->ndims - 1 - i) return error(12, "test double: only the row-major host layout");
    if (AT(tiled, 48, size_t) != 0) return error(12, "test double: no tiles");
  }
  if (AT(a, 32, void*) == NULL) { AT(a, 40, size_t) = b->bytes; return NULL; }
  if (AT(a, 40, size_t) < b->bytes) return error(3, "dst_size %zu is smaller than the buffer's %zu bytes", AT(a, 40, size_t), b->bytes);
  Ev* ev = new_event();
  Err* late = injected("PJRT_Buffer_ToHostBuffer_event"); /* an error the event carries, not the call */
  if (late) {
    complete(ev, late->code, late->message);
    Error_Destroy(&(struct { size_t s; void* x; Err* e; }){24, NULL, late});
  } else {
    copy_then_complete(AT(a, 32, void*), b->data, b->bytes, ev, NULL);
  }
  AT(a, 48, Ev*) = ev;
  return NULL;
}

#include "pjrt_test_plugin_hlo.h"

typedef struct { int params, outputs; Shp param[16]; int source[16]; int aliased[16]; int destroyed; int live_views; } Exe;

static void* Client_Compile(void* a) {
  CHECK(a, 56, "PJRT_Client_Compile_Args");
  void* program = AT(a, 24, void*);
  void* e = check_size(program, 48, "PJRT_Program");
  if (e) return e;
  snprintf(last_format, sizeof last_format, "%.*s", (int)AT(program, 40, size_t), AT(program, 32, const char*));
  free(last_options);
  last_options_size = AT(a, 40, size_t);
  last_options = malloc(last_options_size + 1);
  memcpy(last_options, AT(a, 32, const void*), last_options_size);
  if (strcmp(last_format, "hlo")) return error(3, "Unknown program format '%s'.", last_format);
  Rd module = {AT(program, 16, const unsigned char*), AT(program, 16, const unsigned char*) + AT(program, 24, size_t)};
  Exe* x = calloc(1, sizeof(Exe));
  int n, w; uint64_t v; Rd sub;
  int64_t entry_id = -1;
  int have_shape = 0;
  Rd r = module;
  while (tp_field(&r, &n, &w, &v, &sub)) {
    if (n == 6 && w == 0) entry_id = (int64_t)v;
    if (n == 4 && w == 2) {
      have_shape = 1;
      Rd ps = sub, s; int n2, w2; uint64_t v2;
      while (tp_field(&ps, &n2, &w2, &v2, &s)) {
        int tuple;
        if (n2 == 1 && w2 == 2 && x->params < 16) tp_read_shape(s, &x->param[x->params++], &tuple);
        if (n2 == 2 && w2 == 2) { Shp result; int primitive = tp_read_shape(s, &result, &tuple); x->outputs = primitive == 13 ? tuple : 1; }
      }
    }
    if (n == 8 && w == 2) { /* input_output_alias: entries{parameter_number=2} */
      Rd io = sub, entry; int n2, w2; uint64_t v2;
      while (tp_field(&io, &n2, &w2, &v2, &entry)) {
        Rd en = entry, s; int n3, w3; uint64_t v3; uint64_t parameter = 0; /* proto3: 0 is not written */
        while (tp_field(&en, &n3, &w3, &v3, &s)) if (n3 == 2 && w3 == 0) parameter = v3;
        if (parameter < 16) x->aliased[parameter] = 1;
      }
    }
  }
  if (!have_shape) { free(x); return error(3, "HloModuleProto has no host_program_shape"); }
  int sources = tp_read_entry(module, entry_id, x->source, 16);
  if (sources != x->outputs) { free(x); return error(12, "test double: executes identity programs only (the entry root must be a parameter or a tuple of parameters)"); }
  pthread_mutex_lock(&gate);
  live_loaded++;
  pthread_mutex_unlock(&gate);
  AT(a, 48, Exe*) = x;
  return NULL;
}
static void* LoadedExecutable_Destroy(void* a) {
  CHECK(a, 24, "PJRT_LoadedExecutable_Destroy_Args");
  Exe* x = AT(a, 16, Exe*);
  if (!x) return NULL;
  pthread_mutex_lock(&gate);
  if (x->destroyed) destroyed_twice++;
  else { x->destroyed = 1; live_loaded--; }
  pthread_mutex_unlock(&gate);
  return NULL;
}
typedef struct { Exe* x; int destroyed; } View;
static void* LoadedExecutable_GetExecutable(void* a) {
  CHECK(a, 32, "PJRT_LoadedExecutable_GetExecutable_Args");
  View* view = calloc(1, sizeof(View));
  view->x = AT(a, 16, Exe*);
  pthread_mutex_lock(&gate);
  live_executables++;
  pthread_mutex_unlock(&gate);
  AT(a, 24, View*) = view;
  return NULL;
}
static void* Executable_Destroy(void* a) {
  CHECK(a, 24, "PJRT_Executable_Destroy_Args");
  View* view = AT(a, 16, View*);
  if (!view) return NULL;
  pthread_mutex_lock(&gate);
  if (view->destroyed) destroyed_twice++;
  else { view->destroyed = 1; live_executables--; }
  pthread_mutex_unlock(&gate);
  return NULL;
}
static void* Executable_NumOutputs(void* a) { CHECK(a, 32, "PJRT_Executable_NumOutputs_Args"); AT(a, 24, size_t) = (size_t)AT(a, 16, View*)->x->outputs; return NULL; }
static size_t shape_bytes(const Shp* s) { size_t n = type_size(s->type); for (int i = 0; i < s->ndims; i++) n *= (size_t)s->dims[i]; return n; }
static void* Executable_GetCompiledMemoryStats(void* a) {
  CHECK(a, 120, "PJRT_Executable_GetCompiledMemoryStats_Args");
  Exe* x = AT(a, 16, View*)->x;
  int64_t args = 0, outs = 0, alias = 0;
  for (int i = 0; i < x->params; i++) args += (int64_t)shape_bytes(&x->param[i]);
  for (int i = 0; i < x->outputs; i++) { outs += (int64_t)shape_bytes(&x->param[x->source[i]]); if (x->aliased[x->source[i]]) alias += (int64_t)shape_bytes(&x->param[x->source[i]]); }
  for (int off = 24; off < 120; off += 8) AT(a, off, int64_t) = 0;
  AT(a, 32, int64_t) = args;
  AT(a, 40, int64_t) = outs;
  AT(a, 48, int64_t) = alias;
  AT(a, 104, int64_t) = args + outs - alias; /* the test double's "peak": arguments and results, aliases once */
  AT(a, 112, int64_t) = args + outs - alias;
  return NULL;
}

static void* execute_list(Exe* x, Buf** args, Buf** outs, size_t nargs, const int* keep, Device* target, size_t list) {
  for (size_t i = 0; i < nargs; i++) {
    Buf* b = args[i];
    if (!b || b->destroyed || b->deleted) return error(3, "Argument %zu of device list %zu: buffer has been deleted or donated.", i, list);
    const Shp* p = &x->param[i];
    int same = b->type == p->type && b->ndims == p->ndims;
    for (int d = 0; same && d < p->ndims; d++) same = b->dims[d] == p->dims[d];
    if (!same) return error(3, "Argument %zu does not match the compiled parameter's type or shape", i);
    if (args[0] && b->device != args[0]->device) return error(3, "Argument %zu of device list %zu is on device %d, argument 0 on device %d", i, list, b->device->id, args[0]->device->id);
    if (b->upload) { pthread_mutex_lock(&gate); while (!b->upload->ready) pthread_cond_wait(&changed, &gate); pthread_mutex_unlock(&gate); }
  }
  int donated[16] = {0};
  for (int o = 0; o < x->outputs; o++) {
    int s = x->source[o];
    Buf* in = args[s];
    Buf* out = new_buffer(target, in->type, in->dims, in->ndims);
    if (x->aliased[s] && !keep[s] && !donated[s]) { /* donation: the output takes the input's memory */
      free(out->data);
      out->data = in->data;
      donated[s] = 1;
    } else {
      memcpy(out->data, in->data, in->bytes);
    }
    outs[o] = out;
  }
  for (size_t i = 0; i < nargs; i++) if (donated[i]) { args[i]->deleted = 1; args[i]->data = NULL; }
  return NULL;
}

static void* LoadedExecutable_Execute(void* a) {
  CHECK(a, 80, "PJRT_LoadedExecutable_Execute_Args");
  Exe* x = AT(a, 16, Exe*);
  void* options = AT(a, 24, void*);
  void* e = check_size(options, 112, "PJRT_ExecuteOptions");
  if (e) return e;
  size_t lists = AT(a, 40, size_t);
  if (lists < 1 || lists > 2) return error(3, "test double: num_devices must be 1 or 2, got %zu", lists);
  if (lists > 1 && AT(a, 72, Device*)) return error(3, "execute_device needs num_devices = 1, got %zu", lists);
  size_t nargs = AT(a, 48, size_t);
  if ((int)nargs != x->params) return error(3, "Execution supplied %zu buffers but compiled program expected %d buffers", nargs, x->params);
  int keep[16] = {0};
  const int64_t* nd = AT(options, 56, const int64_t*);
  size_t nnd = AT(options, 64, size_t);
  pthread_mutex_lock(&gate);
  last_num_non_donatable = (long)nnd;
  last_num_devices = (long)lists;
  for (size_t i = 0; i < nnd && i < 64; i++) last_non_donatable[i] = nd[i];
  pthread_mutex_unlock(&gate);
  for (size_t i = 0; i < nnd; i++) { if (nd[i] < 0 || nd[i] >= (int64_t)nargs) return error(3, "non_donatable_input_indices[%zu] = %ld is out of range", i, (long)nd[i]); keep[nd[i]] = 1; }
  for (size_t l = 0; l < lists; l++) {
    Buf** args = AT(a, 32, Buf***)[l];
    Buf** outs = AT(a, 56, Buf***)[l];
    Device* target = AT(a, 72, Device*) ? AT(a, 72, Device*) : args[0] ? args[0]->device : NULL;
    pthread_mutex_lock(&gate);
    if (l < 8) last_list_device[l] = target ? target->id : -1;
    pthread_mutex_unlock(&gate);
    void* failed = execute_list(x, args, outs, nargs, keep, target, l);
    if (failed) return failed;
  }
  return NULL;
}

/* PJRT_Client_DefaultDeviceAssignment_Args: client@16, num_replicas@24, num_partitions@28, default_assignment_size@32,
   default_assignment@40. Replica r of one partition gets device 1 - r: the reverse of the device order. */
static void* Client_DefaultDeviceAssignment(void* a) {
  CHECK(a, 48, "PJRT_Client_DefaultDeviceAssignment_Args");
  Client* c = AT(a, 16, Client*);
  int replicas = AT(a, 24, int), partitions = AT(a, 28, int);
  if (partitions != 1) return error(12, "test double: %d partitions; it assigns one partition only", partitions);
  if (replicas < 1 || replicas > 2) return error(3, "Requested more replicas (%d) than the 2 available devices", replicas);
  if (AT(a, 32, size_t) < (size_t)replicas) return error(9, "`default_assignment_size` %zu < `num_replicas * num_partitions`, %d * 1", AT(a, 32, size_t), replicas);
  for (int r = 0; r < replicas; r++) AT(a, 40, int*)[r] = c->devices[replicas - 1 - r].id;
  return NULL;
}

/* ------------------------------------------------------------------ the table */
static union { size_t size; void* slots[TEST_API_SIZE / 8 + 1]; unsigned char bytes[TEST_API_SIZE + 8]; } api;
#define SET(off, f) if ((off) + 8 <= TEST_API_SIZE) api.slots[(off) / 8] = (void*)(f)

const void* GetPjrtApi(void) {
  api.size = TEST_API_SIZE;
  AT(api.bytes, 16, size_t) = 24;
  AT(api.bytes, 32, int) = TEST_MAJOR;
  AT(api.bytes, 36, int) = TEST_MINOR;
  SET(40, Error_Destroy); SET(48, Error_Message); SET(56, Error_GetCode);
  SET(64, Plugin_Initialize); SET(72, Plugin_Attributes);
  SET(80, Event_Destroy); SET(88, Event_IsReady); SET(104, Event_Await); SET(112, Event_OnReady);
  SET(120, Client_Create); SET(128, Client_Destroy); SET(136, Client_PlatformName); SET(144, Client_ProcessIndex);
  SET(152, Client_PlatformVersion); SET(168, Client_AddressableDevices); SET(200, Client_Compile); SET(208, Client_DefaultDeviceAssignment); SET(216, Client_BufferFromHostBuffer);
  SET(224, DeviceDescription_Id); SET(232, DeviceDescription_ProcessIndex); SET(240, DeviceDescription_Attributes); SET(248, DeviceDescription_Kind);
  SET(272, Device_GetDescription); SET(312, Device_MemoryStats);
  SET(360, Executable_Destroy); SET(392, Executable_NumOutputs);
  SET(440, LoadedExecutable_Destroy); SET(448, LoadedExecutable_GetExecutable); SET(480, LoadedExecutable_Execute);
  SET(504, Buffer_Destroy); SET(600, Buffer_ToHostBuffer); SET(616, Buffer_ReadyEvent);
  SET(808, Executable_GetCompiledMemoryStats);
  return &api;
}
