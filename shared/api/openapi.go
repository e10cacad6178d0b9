package api

import (
	_ "embed"
	"net/http"
)

// OpenAPIPath is where the API serves its OpenAPI document.
const OpenAPIPath = "/api/v1/openapi.json"

// OpenAPI is the API's OpenAPI 3 document (openapi.json), served at
// GET /api/v1/openapi.json and tested against the routes.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPI)
	return nil
}
