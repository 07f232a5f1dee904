'use strict';
// The fault suite's malformed-input cases once more, for tests/run to point
// at the sanitized build (PUSHER_BIN), where a sanitizer report fails the run.
require('../malformed.test.js');
