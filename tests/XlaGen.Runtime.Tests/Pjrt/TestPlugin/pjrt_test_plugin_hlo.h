/* pjrt_test_plugin_hlo.h: the test double's protobuf walker over HloModuleProto (see pjrt_test_plugin_hlo.c). */
#ifndef PJRT_TEST_PLUGIN_HLO_H_
#define PJRT_TEST_PLUGIN_HLO_H_
#include <stdint.h>

typedef struct { const unsigned char* p; const unsigned char* end; } Rd;
/* An array shape with its element type as a PJRT_Buffer_Type number. */
typedef struct { int type; int64_t dims[8]; int ndims; } Shp;

int tp_varint(Rd* r, uint64_t* v);
/* Next field: number, wire type, varint value or (ptr,len) for length-delimited. Skips 32/64-bit. */
int tp_field(Rd* r, int* number, int* wire, uint64_t* value, Rd* sub);
/* A ShapeProto; returns its xla.PrimitiveType, counts tuple elements. */
int tp_read_shape(Rd r, Shp* s, int* tuple_count);
/* The entry computation's root: a parameter, or a tuple of parameters; fills the source parameter of each output
   and returns their number, or -1 for any other program. */
int tp_read_entry(Rd module, int64_t entry_id, int* sources, int max);

#endif
