package extension

import _ "embed" // the exec wrapper

// WrapperPath is where the exec wrapper sits inside the layer (and so,
// under /opt, the value of AWS_LAMBDA_EXEC_WRAPPER).
const WrapperPath = "lambdascope-wrapper"

// Wrapper is the exec wrapper, a POSIX shell script: it points the
// function's runtime at the agent's Runtime API proxy when the proxy is
// up, and runs it unchanged otherwise.
//
//go:embed lambdascope-wrapper
var Wrapper string

// RuntimeAPIFile is the name, under $TMPDIR (/tmp in Lambda), of the file
// in which the agent announces its Runtime API proxy to the wrapper:
// "<host:port> <pid>\n". It exists only while the proxy serves.
const RuntimeAPIFile = "lambdascope-runtime-api"
