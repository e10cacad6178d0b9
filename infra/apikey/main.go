// Command apikey is `make api-key`: it generates an API key for the data
// API and prints it once, with its hash and the JSON entry to store.
//
//	make api-key NAME=dashboard ROLE=reader
//	make api-key NAME=ops ROLE=admin SECRET_ARN=arn:aws:secretsmanager:...
//	go run ./infra/apikey -name dashboard -role reader [-secret ARN]
//
// With -secret (SECRET_ARN) it appends the entry to that secret's
// AWSCURRENT version, with the AWS configuration of the environment
// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for moto), and prints the key
// only once the secret holds its hash.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/shared/apikeys"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "api-key:", err)
		os.Exit(1)
	}
}

func run() error {
	name := flag.String("name", os.Getenv("NAME"), "the key's label, e.g. dashboard")
	role := flag.String("role", "reader", `"reader" or "admin"`)
	secretARN := flag.String("secret", os.Getenv("SECRET_ARN"), "append the entry to this Secrets Manager secret")
	flag.Parse()
	if *name == "" {
		return fmt.Errorf("give the key a name: make api-key NAME=dashboard ROLE=reader")
	}
	raw, key, err := apikeys.Generate(*name, apikeys.Role(*role), time.Now())
	if err != nil {
		return err
	}
	entry, err := json.Marshal(key)
	if err != nil {
		return err
	}
	if *secretARN != "" {
		ctx := context.Background()
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("AWS configuration: %w", err)
		}
		if err := apikeys.AddToSecret(ctx, secretsmanager.NewFromConfig(cfg), *secretARN, key); err != nil {
			return err
		}
	}
	fmt.Printf("API key %s; shown this once, GitPulse keeps only its hash:\n\n    %s\n\n", key, raw.Reveal())
	fmt.Printf("hash:  %s\nentry: %s\n\n", key.Hash, entry)
	if *secretARN != "" {
		fmt.Printf("Added to %s; the API accepts it within %s (its key cache).\n", *secretARN, apikeys.DefaultTTL)
	} else {
		fmt.Println(`Add the entry to the "keys" array of the secret in API_KEYS_SECRET_ARN (or rerun with SECRET_ARN=...), or for a local run: API_KEYS='{"keys":[<entry>]}'.`)
	}
	return nil
}
