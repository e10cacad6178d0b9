// Command alerts is `make alerts`: the SNS alerts the local stack
// published (token check, rotation), newest first, laid out as an
// operator reads them in e-mail. `make run` subscribes a queue to the
// alert topic (ALERTS_QUEUE_URL in .run/local.env), as an operator's
// address is subscribed in AWS; this reads the queue, keeps what it read
// in the run's alerts file (each `make run` starts it afresh) and prints
// every alert of the run.
//
//	make alerts            (or: go run ./infra/alerts -file .run/alerts.jsonl)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {
	runDir := os.Getenv("GITPULSE_RUN_DIR")
	if runDir == "" {
		runDir = ".run"
	}
	file := flag.String("file", filepath.Join(runDir, "alerts.jsonl"), "where the alerts read so far are kept")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *file); err != nil {
		fmt.Fprintln(os.Stderr, "alerts:", err)
		os.Exit(1)
	}
}

// Notification is an SNS message as an SQS subscriber receives it (the
// envelope SNS wraps around the published message).
type Notification struct {
	MessageID         string                      `json:"MessageId"`
	TopicArn          string                      `json:"TopicArn"`
	Subject           string                      `json:"Subject"`
	Message           string                      `json:"Message"`
	Timestamp         time.Time                   `json:"Timestamp"`
	MessageAttributes map[string]MessageAttribute `json:"MessageAttributes"`
}

// MessageAttribute is one attribute of a notification.
type MessageAttribute struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

func run(ctx context.Context, out io.Writer, file string) error {
	queue := os.Getenv("ALERTS_QUEUE_URL")
	if queue == "" {
		return errors.New("ALERTS_QUEUE_URL is not set: start `make run` (it subscribes a queue to the alert topic)")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	if err := collect(ctx, sqs.NewFromConfig(cfg), queue, file); err != nil {
		return err
	}
	alerts, err := load(file)
	if err != nil {
		return err
	}
	show(out, alerts, os.Getenv("ALERT_TOPIC_ARN"))
	return nil
}

// collect moves what the queue holds into file: each message is appended
// first and deleted from the queue only then, so none is lost; one read
// twice (a delete that failed) is shown once (load keeps one per id).
func collect(ctx context.Context, q *sqs.Client, queue, file string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	for {
		msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			return fmt.Errorf("read the alerts queue: %w", err)
		}
		if len(msgs.Messages) == 0 {
			return nil
		}
		for _, m := range msgs.Messages {
			// One line per notification (SNS's envelope may be indented).
			var line bytes.Buffer
			if err := json.Compact(&line, []byte(aws.ToString(m.Body))); err != nil {
				line.Reset()
				quoted, _ := json.Marshal(map[string]string{"Message": aws.ToString(m.Body)})
				line.Write(quoted)
			}
			if _, err := fmt.Fprintln(f, line.String()); err != nil {
				return fmt.Errorf("keep an alert in %s: %w", file, err)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("delete an alert read: %w", err)
			}
		}
	}
}

// load reads the kept alerts, newest first, one per message id.
func load(file string) ([]Notification, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var alerts []Notification
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var n Notification
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil || n.Message == "" {
			continue // not an SNS notification (nothing else writes there)
		}
		if n.MessageID != "" && seen[n.MessageID] {
			continue
		}
		seen[n.MessageID] = true
		alerts = append(alerts, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Timestamp.After(alerts[j].Timestamp) })
	return alerts, nil
}

// show writes the alerts as mails: headers, then the body as published.
func show(out io.Writer, alerts []Notification, topic string) {
	if len(alerts) == 0 {
		fmt.Fprintln(out, "No alerts yet: the inbox of the alert topic is empty. The token check at the start of `make run` and every rotation (`make rotate-now`, `make revoke-current` then a rotation) publish one when something needs attention.")
		return
	}
	fmt.Fprintf(out, "%d alert(s), newest first\n", len(alerts))
	for _, n := range alerts {
		fmt.Fprintln(out, strings.Repeat("─", 72))
		fmt.Fprintf(out, "Date:     %s\n", n.Timestamp.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"))
		fmt.Fprintf(out, "Subject:  %s\n", n.Subject)
		var attrs []string
		for _, name := range []string{"severity", "event", "token_name"} {
			if a, ok := n.MessageAttributes[name]; ok && a.Value != "" {
				attrs = append(attrs, name+"="+a.Value)
			}
		}
		if len(attrs) > 0 {
			fmt.Fprintf(out, "Tags:     %s\n", strings.Join(attrs, ", "))
		}
		if n.TopicArn != "" && n.TopicArn != topic {
			fmt.Fprintf(out, "Topic:    %s\n", n.TopicArn)
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out, strings.TrimRight(n.Message, "\n"))
	}
	fmt.Fprintln(out, strings.Repeat("─", 72))
}
