'use strict';
// The churn of the fault suite against the sanitized build: every way of
// leaving, 10 000 times, and LeakSanitizer looks at what is left at exit.
require('../churn.test.js');
