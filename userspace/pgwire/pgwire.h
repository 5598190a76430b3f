// Everything in the wire codec, for code that handles many message kinds.
// Prefer the individual headers where only a few are needed.
#pragma once

#include "pgwire/auth.h"
#include "pgwire/backend_messages.h"
#include "pgwire/byte_io.h"
#include "pgwire/copy_messages.h"
#include "pgwire/data_row.h"
#include "pgwire/empty_message.h"
#include "pgwire/error_response.h"
#include "pgwire/frame.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/md5_password.h"
#include "pgwire/message_types.h"
#include "pgwire/row_description.h"
#include "pgwire/scram.h"
#include "pgwire/startup.h"
#include "pgwire/wire_arrays.h"
