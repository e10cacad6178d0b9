package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/smithy-go/logging"

	"github.com/gitpulse/gitpulse/shared/redact"
)

// NewLogger returns the function's JSON logger on stdout: the Lambda
// request id on every line logged with an invocation context, the level
// from AWS_LAMBDA_LOG_LEVEL (Lambda's log configuration; default INFO),
// tagged with the function name.
func NewLogger(function string) *slog.Logger {
	return NewLoggerTo(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"), function)
}

// NewLoggerTo is NewLogger writing to w at the named level. Every line
// passes package redact on its way out: no credential-shaped value and no
// loaded secret reaches the log, whatever attribute carried it.
func NewLoggerTo(w io.Writer, level, function string) *slog.Logger {
	h := slog.NewJSONHandler(redact.Writer(w), &slog.HandlerOptions{
		Level:       parseLevel(level),
		ReplaceAttr: lambdacontext.ReplaceAttr,
	})
	return slog.New(requestIDHandler{h}).With("function", function)
}

func parseLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// requestIDHandler adds the Lambda request id from the context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// sdkLogger sends the AWS SDK's own messages (such as "Response has no
// supported checksum") to the function's JSON log, at warn level for the
// SDK's warnings, instead of as plain text on stderr.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "source", "aws-sdk")
}
