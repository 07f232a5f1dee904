/* wsconn.h - the receiving side of an open WebSocket: frames in, whole
 * messages out. */
#ifndef WSCONN_H
#define WSCONN_H

#include "conn.h"

/* Called with each complete, unmasked data message (UTF-8 checked when op is
 * WS_OP_TEXT). data is writable and lives until the call returns. */
typedef void wsconn_message_fn(struct conn *c, uint8_t op, uint8_t *data, size_t len);

void wsconn_init(size_t max_message, wsconn_message_fn *on_message);
/* Feeds bytes read from c's socket; they are unmasked in place. */
void wsconn_input(struct conn *c, uint8_t *data, size_t len);
/* Frees a partial frame or message of c. */
void wsconn_free(struct conn *c);

#endif
