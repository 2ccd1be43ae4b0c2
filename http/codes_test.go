package http

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/boxoffice/boxoffice"
)

// TestCodeLists holds the status table and the OpenAPI document to
// boxoffice.Codes, the one list of the API's error codes.
func TestCodeLists(t *testing.T) {
	want := boxoffice.Codes()
	t.Run("Table", func(t *testing.T) {
		var table []boxoffice.Code
		for c := range codes {
			table = append(table, c)
		}
		slices.Sort(table)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(table, sorted) {
			t.Errorf("codes in the status table: got %v, want %v", table, sorted)
		}
	})
	t.Run("OpenAPIEnum", func(t *testing.T) {
		s, _ := bareServer(t, Options{})
		w := serve(s, httptest.NewRequest("GET", "/openapi.json", nil))
		var doc struct {
			Components struct {
				Schemas map[string]struct {
					Properties map[string]struct {
						Enum []boxoffice.Code `json:"enum"`
					} `json:"properties"`
				} `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		problem, ok := doc.Components.Schemas["Problem"]
		if !ok {
			t.Fatal("no Problem schema in the OpenAPI document")
		}
		if got := problem.Properties["code"].Enum; !slices.Equal(got, want) {
			t.Errorf("enum of Problem.code: got %v, want %v", got, want)
		}
	})
}
