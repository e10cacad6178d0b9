package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is everything the benchmark measured, as -json prints it.
type report struct {
	Course      courseReport   `json:"course"`
	Key         keyReport      `json:"api_key"`
	N           int            `json:"n"`
	Warmup      int            `json:"warmup"`
	Concurrency int            `json:"concurrency"`
	Sequential  []routeReport  `json:"sequential"`
	Concurrent  []routeReport  `json:"concurrent"`
	Scale       *scaleReport   `json:"scale_check,omitempty"`
	Totals      map[string]int `json:"dynamodb_calls_total"`
	Goals       []goal         `json:"goals"`
	Pass        bool           `json:"pass"`
}

// keyReport names the API key used; never the key itself.
type keyReport struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Hash string `json:"hash"`
}

type courseReport struct {
	CourseID        int64   `json:"course_id"`
	ProjectID       int64   `json:"project_id"`
	Teams           int     `json:"teams"`
	StudentsPerTeam int     `json:"students_per_team"`
	SoloProjects    int     `json:"solo_projects"`
	Weeks           int     `json:"weeks"`
	Projects        int     `json:"projects"`
	Students        int     `json:"students"`
	Table           string  `json:"table"`
	SyncSeconds     float64 `json:"sync_seconds"`
}

type routeReport struct {
	Route       string            `json:"route"`
	Path        string            `json:"path"`
	Concurrency int               `json:"concurrency"`
	N           int               `json:"n"`
	P50ms       float64           `json:"p50_ms"`
	P99ms       float64           `json:"p99_ms"`
	RPS         float64           `json:"requests_per_second"`
	Statuses    map[int]int       `json:"statuses"`
	Unexpected  int               `json:"unexpected_statuses"`
	Items       *int              `json:"items_first_answer,omitempty"`
	DynamoDB    map[string]opStat `json:"dynamodb_calls_per_request"`
}

type scaleReport struct {
	Course  courseReport  `json:"course"`
	Results []routeReport `json:"results"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func courseOf(f *fixture) courseReport {
	c := f.course.Course
	return courseReport{CourseID: f.course.CourseID, ProjectID: f.projectID, Teams: f.spec.Teams, StudentsPerTeam: f.spec.StudentsPerTeam,
		SoloProjects: f.spec.SoloProjects, Weeks: f.spec.Weeks, Projects: len(c.ProjectIDs), Students: len(c.StudentIDs),
		Table: f.course.Resources.DataTable, SyncSeconds: f.synced.Seconds()}
}

func routeReports(rs []result) []routeReport {
	out := make([]routeReport, 0, len(rs))
	for _, r := range rs {
		rr := routeReport{Route: r.route.name, Path: r.route.path, Concurrency: r.concurrency, N: len(r.samples),
			P50ms: ms(r.percentile(50)), P99ms: ms(r.percentile(99)), RPS: r.rps(), Statuses: r.statuses(),
			Unexpected: r.unexpected(), DynamoDB: r.perRequest()}
		if r.items >= 0 {
			items := r.items
			rr.Items = &items
		}
		out = append(out, rr)
	}
	return out
}

// writeJSON prints the report as indented JSON.
func writeJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// printCourse prints what was synced.
func printCourse(w io.Writer, title string, c courseReport) {
	fmt.Fprintf(w, "%s: course %d, %d teams × %d students + %d solo projects, %d weeks: %d projects, %d students; synced in %.1f s (table %s)\n",
		title, c.CourseID, c.Teams, c.StudentsPerTeam, c.SoloProjects, c.Weeks, c.Projects, c.Students, c.SyncSeconds, c.Table)
}

// printTable prints the measured routes: latency, throughput, statuses
// and DynamoDB calls per request by operation, avg (max).
func printTable(w io.Writer, title string, rs []routeReport) {
	fmt.Fprintf(w, "\n== %s\n", title)
	rows := [][]string{{"route", "n", "p50 ms", "p99 ms", "req/s", "status", "items", "DynamoDB calls/request: avg (max)"}}
	for _, r := range rs {
		items := "-"
		if r.Items != nil {
			items = fmt.Sprint(*r.Items)
		}
		rows = append(rows, []string{r.Route, fmt.Sprint(r.N), fmt.Sprintf("%.2f", r.P50ms), fmt.Sprintf("%.2f", r.P99ms),
			fmt.Sprintf("%.0f", r.RPS), statusList(r.Statuses), items, callList(r.DynamoDB)})
	}
	printRows(w, rows, 4)
}

// printGoals prints each goal with PASS or FAIL.
func printGoals(w io.Writer, goals []goal) {
	fmt.Fprintln(w, "\n== Goals")
	for _, g := range goals {
		verdict := "PASS"
		if !g.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s\n        %s\n", verdict, g.Name, g.Detail)
	}
}

// printNotes says what the latencies are.
func printNotes(w io.Writer) {
	fmt.Fprintln(w, "\nNotes")
	fmt.Fprintln(w, "  - Requests go to the handler in-process (no network, no API Gateway); each DynamoDB call is an HTTP")
	fmt.Fprintln(w, "    round trip to moto server on loopback, so latencies are moto's, not DynamoDB's: compare call counts")
	fmt.Fprintln(w, "    with production, and latencies only within a run. moto's Query walks every item of the table.")
	fmt.Fprintln(w, "  - health (trivial checker) runs the route with a checker that checks nothing: the route's own cost.")
	fmt.Fprintln(w, "  - Calls are counted per request by a middleware on the DynamoDB client, attributed through the")
	fmt.Fprintln(w, "    request's context, once per operation call (SDK retries not counted).")
}

// printRows prints left-aligned columns; columns from numeric on are
// right-aligned except the last.
func printRows(w io.Writer, rows [][]string, numeric int) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(" ")
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case i == len(r)-1:
				b.WriteString(" " + c)
			case i >= 1 && i <= numeric:
				b.WriteString(" " + pad + c)
			default:
				b.WriteString(" " + c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// statusList formats statuses with their counts: "200×500".
func statusList(m map[int]int) string {
	codes := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d×%d", c, m[c])
	}
	return strings.Join(parts, " ")
}

// callList formats calls per request: "3.00 (3): GetItem 2.00 (2), Query 1.00 (1)".
func callList(m map[string]opStat) string {
	t := m["total"]
	s := fmt.Sprintf("%.2f (%d)", t.Avg, t.Max)
	var parts []string
	for _, op := range opNames(m) {
		parts = append(parts, fmt.Sprintf("%s %.2f (%d)", op, m[op].Avg, m[op].Max))
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}
