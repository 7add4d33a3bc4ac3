/*
 * pjrt_test_plugin_hlo.c: the PJRT test double's reading of a serialized HloModuleProto (part of the test double of
 * the PJRT C API in pjrt_test_plugin.c; not XLA). Field numbers are OpenXLA's (protos/xla/hlo.proto, xla_data.proto).
 */
#include <stdio.h>
#include <string.h>

#include "pjrt_test_plugin_hlo.h"

/* ------------------------------------------------------------------ programs: a tiny protobuf walker */
int tp_varint(Rd* r, uint64_t* v) {
  *v = 0;
  for (int s = 0; s < 64 && r->p < r->end; s += 7) {
    unsigned char c = *r->p++;
    *v |= (uint64_t)(c & 0x7f) << s;
    if (!(c & 0x80)) return 1;
  }
  return 0;
}
/* Next field: number, wire type, varint value or (ptr,len) for length-delimited. Skips 32/64-bit. */
int tp_field(Rd* r, int* number, int* wire, uint64_t* value, Rd* sub) {
  uint64_t key;
  if (r->p >= r->end || !tp_varint(r, &key)) return 0;
  *number = (int)(key >> 3);
  *wire = (int)(key & 7);
  if (*wire == 0) return tp_varint(r, value);
  if (*wire == 2) {
    if (!tp_varint(r, value) || *value > (uint64_t)(r->end - r->p)) return 0;
    sub->p = r->p;
    sub->end = r->p + *value;
    r->p += *value;
    return 1;
  }
  if (*wire == 1) { r->p += 8; return r->p <= r->end; }
  if (*wire == 5) { r->p += 4; return r->p <= r->end; }
  return 0;
}
static int pjrt_type(int primitive) {
  switch (primitive) { case 16: return 13; case 15: return 14; case 18: return 15; default: return primitive >= 1 && primitive <= 12 ? primitive : 0; }
}
int tp_read_shape(Rd r, Shp* s, int* tuple_count) {
  int n, w; uint64_t v; Rd sub;
  memset(s, 0, sizeof *s);
  *tuple_count = 0;
  int primitive = 0;
  while (tp_field(&r, &n, &w, &v, &sub)) {
    if (n == 2 && w == 0) primitive = (int)v;
    else if (n == 3 && w == 2) { while (sub.p < sub.end && s->ndims < 8 && tp_varint(&sub, &v)) s->dims[s->ndims++] = (int64_t)v; }
    else if (n == 3 && w == 0 && s->ndims < 8) s->dims[s->ndims++] = (int64_t)v;
    else if (n == 4 && w == 2) (*tuple_count)++;
  }
  s->type = pjrt_type(primitive);
  return primitive;
}

/* The entry computation's root: a parameter, or a tuple of parameters → source parameter of each output. */
int tp_read_entry(Rd module, int64_t entry_id, int* sources, int max) {
  int n, w; uint64_t v; Rd comp;
  while (tp_field(&module, &n, &w, &v, &comp)) {
    if (n != 3 || w != 2) continue;
    int64_t id = -1, root = -1;
    Rd c = comp, ins;
    int n2, w2; uint64_t v2;
    while (tp_field(&c, &n2, &w2, &v2, &ins)) { if (n2 == 5 && w2 == 0) id = (int64_t)v2; if (n2 == 6 && w2 == 0) root = (int64_t)v2; }
    if (id != entry_id) continue;
    /* two passes over the instructions: find the root's opcode and operands, then each operand's parameter number */
    int64_t operand[16]; int nops = 0; char opcode[16] = "";
    c = comp;
    while (tp_field(&c, &n2, &w2, &v2, &ins)) {
      if (n2 != 2 || w2 != 2) continue;
      Rd i = ins, s; int n3, w3; uint64_t v3; int64_t iid = -1; char op[16] = ""; int64_t ops[16]; int k = 0; int64_t pnum = 0;
      while (tp_field(&i, &n3, &w3, &v3, &s)) {
        if (n3 == 35 && w3 == 0) iid = (int64_t)v3;
        else if (n3 == 2 && w3 == 2) snprintf(op, sizeof op, "%.*s", (int)(s.end - s.p), (const char*)s.p);
        else if (n3 == 36 && w3 == 2) { while (s.p < s.end && k < 16 && tp_varint(&s, &v3)) ops[k++] = (int64_t)v3; }
        else if (n3 == 36 && w3 == 0 && k < 16) ops[k++] = (int64_t)v3;
        else if (n3 == 9 && w3 == 0) pnum = (int64_t)v3;
      }
      if (iid == root) {
        snprintf(opcode, sizeof opcode, "%s", op);
        if (!strcmp(op, "parameter")) { sources[0] = (int)pnum; return 1; }
        for (int q = 0; q < k; q++) operand[q] = ops[q];
        nops = k;
      }
    }
    if (strcmp(opcode, "tuple") || nops > max) return -1;
    for (int q = 0; q < nops; q++) {
      sources[q] = -1;
      c = comp;
      while (tp_field(&c, &n2, &w2, &v2, &ins)) {
        if (n2 != 2 || w2 != 2) continue;
        Rd i = ins, s; int n3, w3; uint64_t v3; int64_t iid = -1; char op[16] = ""; int64_t pnum = 0;
        while (tp_field(&i, &n3, &w3, &v3, &s)) {
          if (n3 == 35 && w3 == 0) iid = (int64_t)v3;
          else if (n3 == 2 && w3 == 2) snprintf(op, sizeof op, "%.*s", (int)(s.end - s.p), (const char*)s.p);
          else if (n3 == 9 && w3 == 0) pnum = (int64_t)v3;
        }
        if (iid == operand[q] && !strcmp(op, "parameter")) sources[q] = (int)pnum;
      }
      if (sources[q] < 0) return -1;
    }
    return nops;
  }
  return -1;
}

