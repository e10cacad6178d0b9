package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/shared/config"
)

// signIn is the simulator's OAuth application for the local API, kept
// until the sign-in secret is stored (localSignIn).
var signIn struct {
	gitlabURL, clientID, clientSecret string
}

// signInFromSim registers GitPulse as an OAuth application on the
// simulator, as an operator registers it on GitLab (confidential, scope
// openid, the API's callback URL), so that `make run` lets a newcomer sign
// in as the demo teacher or a demo student. A SIGNIN_* configuration of
// one's own is left as it is.
func signInFromSim(s *sim.Sim, simURL, apiPort string) error {
	if os.Getenv(config.EnvSignInClientID) != "" {
		return nil
	}
	app, err := s.AddOAuthApp(sim.OAuthApp{Name: "GitPulse (local)", Confidential: true, Scopes: []string{"openid"},
		RedirectURIs: []string{"http://127.0.0.1:" + apiPort + "/api/v1/auth/callback", "http://localhost:" + apiPort + "/api/v1/auth/callback"}})
	if err != nil {
		return fmt.Errorf("register the local OAuth application on the simulator: %w", err)
	}
	signIn.gitlabURL, signIn.clientID, signIn.clientSecret = simURL, app.UID, app.Secret
	return nil
}

// localSignIn stores the local sign-in secret (the application's client
// secret and a fresh session key) in Secrets Manager, as a deployed stack
// holds it, and points the API at it. It does nothing when the simulator
// registered no application.
func localSignIn(ctx context.Context, sm *secretsmanager.Client, prefix string) (bool, error) {
	if signIn.clientID == "" {
		return false, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return false, err
	}
	doc, err := json.Marshal(map[string]string{"client_secret": signIn.clientSecret, "session_key": hex.EncodeToString(key)})
	if err != nil {
		return false, err
	}
	name := prefix + "/signin"
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(doc))})
	arn := aws.ToString(out.ARN)
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		var put *secretsmanager.PutSecretValueOutput
		put, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(string(doc))})
		if err == nil {
			arn = aws.ToString(put.ARN)
		}
	}
	if err != nil {
		return false, fmt.Errorf("store the local sign-in secret %s: %w", name, err)
	}
	os.Setenv(config.EnvSignInURL, signIn.gitlabURL)
	os.Setenv(config.EnvSignInClientID, signIn.clientID)
	os.Setenv(config.EnvSignInSecretARN, partialARN(arn, name))
	return true, nil
}
