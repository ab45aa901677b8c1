/* case/codec: cases and orders to and from their stored JSON, and the views
 * policies see.
 *
 * The stored form of a case is the API's shape (SPEC section 3), so a GET
 * answers the stored bytes as they are. Encoders write through an emitter
 * (util/emit.h): the JSON writer for the store and the API, the policy host's
 * table builder for views. Decoders read what any earlier build stored:
 * members they do not know are skipped (an order's old case_ids), members
 * missing take their defaults, so an upgrade needs no rewrite of the data.
 *
 * A view (what a policy is given) is the stored shape without null members
 * (a policy sees them as nil, absent): the case with its order line as
 * case.item and escalated/followup always present; the order without buyer
 * phone and email. */
#ifndef AS_CASE_CODEC_H
#define AS_CASE_CODEC_H

#include <jansson.h>

#include "case/model.h"

/* ---- cases ---- */
/* The members of the stored/API shape, without the enclosing braces (a
 * caller may add members of its own before closing the object). */
void case_encode_members(const as_case *c, emitter *e);
/* {members} */
void case_encode(const as_case *c, emitter *e);
/* The view for policies; o (may be NULL) gives case.item. */
void case_encode_view(const as_case *c, const as_order *o, emitter *e);
/* The stored text of c (malloc'd, NUL-terminated, *len without the NUL), or
 * NULL when out of memory. */
char *case_to_json(const as_case *c, size_t *len);
/* Reads a stored case into a blank c. 0, or -1 with the reason in err (c is
 * then blank again). */
int case_from_doc(as_case *c, const json_t *doc, char *err, size_t errlen);
int case_from_json(as_case *c, const char *text, size_t len, char *err, size_t errlen);

/* ---- orders ---- */
#define ORDER_MASK_PII 1u /* phone and email masked (every role but admin) */
void order_encode_members(const as_order *o, emitter *e, unsigned flags);
void order_encode(const as_order *o, emitter *e, unsigned flags);
void order_encode_view(const as_order *o, emitter *e);
char *order_to_json(const as_order *o, size_t *len);
int order_from_doc(as_order *o, const json_t *doc, char *err, size_t errlen);
int order_from_json(as_order *o, const char *text, size_t len, char *err, size_t errlen);
/* The stored form of an order: compact binary (util/bin.h, first byte
 * ORDER_BIN_V2), since every case opened or acted on reads its order and a
 * JSON parse of it cost more than the rest of the read. order_decode reads
 * either form (orders stored as JSON by earlier builds stay readable). */
#define ORDER_BIN_V1 0x01
#define ORDER_BIN_V2 0x02 /* V1 and the buyer's address after the email */
char *order_to_bin(const as_order *o, size_t *len);
int order_decode(as_order *o, const void *bytes, size_t len, char *err, size_t errlen);

/* The masks of SPEC section 5: 13812345678 -> 138****5678, jane@example.com
 * -> j***@example.com; cut by character, never inside one. */
void mask_phone(const char *in, char *out, size_t outlen);
void mask_email(const char *in, char *out, size_t outlen);
/* 北京市朝阳区... -> 北京市***; 6 characters or fewer -> ***. */
void mask_address(const char *in, char *out, size_t outlen);

#endif
