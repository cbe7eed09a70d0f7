package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sample dashboard and the doc that lists the series, relative to
// this package.
const (
	dashboardPath  = "../../docs/grafana-dashboard.json"
	metricsDocPath = "../../docs/operations.md"
)

// dashboardDatasource is the data source every panel and query names: the
// dashboard's variable, so that it works with whatever Prometheus the
// operator picks.
const dashboardDatasource = "${DS_PROMETHEUS}"

// grafanaDashboard is the part of Grafana's dashboard model the tests
// check.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int               `json:"id"`
		Type       string            `json:"type"`
		Title      string            `json:"title"`
		Datasource grafanaDatasource `json:"datasource"`
		GridPos    struct{ H, W, X, Y int }
		Targets    []struct {
			RefID      string            `json:"refId"`
			Expr       string            `json:"expr"`
			Datasource grafanaDatasource `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
}

type grafanaVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a plugin id for a data source variable
	Definition string          `json:"definition"`
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal(b, &d), "parse %s", dashboardPath)
	return d
}

// promQLNames are the words of the dashboard's PromQL (queries and
// variable definitions) that name series: those in the namespaces a node
// exports.
func (d grafanaDashboard) promQLNames() []string {
	var exprs []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	word := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	var names []string
	for _, e := range exprs {
		for _, w := range word.FindAllString(e, -1) {
			if strings.HasPrefix(w, "synod_") || strings.HasPrefix(w, "go_") || strings.HasPrefix(w, "process_") {
				names = append(names, w)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// The dashboard is a Grafana 10 model whose panels all query the
// Prometheus the DS_PROMETHEUS variable names.
func TestGrafanaDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	assert.NotEmpty(t, d.UID)
	assert.NotEmpty(t, d.Title)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "Grafana 10 reads schema version 36 and later")

	i := slices.IndexFunc(d.Templating.List, func(v grafanaVariable) bool { return v.Name == "DS_PROMETHEUS" })
	if assert.GreaterOrEqual(t, i, 0, "no DS_PROMETHEUS variable") {
		v := d.Templating.List[i]
		assert.Equal(t, "datasource", v.Type)
		assert.JSONEq(t, `"prometheus"`, string(v.Query))
	}

	require.NotEmpty(t, d.Panels)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Type, p.Title)
		assert.Equal(t, grafanaDatasource{"prometheus", dashboardDatasource}, p.Datasource, p.Title)
		assert.True(t, p.GridPos.W > 0 && p.GridPos.H > 0 && p.GridPos.X+p.GridPos.W <= 24, "%s: grid position %+v", p.Title, p.GridPos)
		if assert.NotEmpty(t, p.Targets, p.Title) {
			for _, q := range p.Targets {
				assert.NotEmpty(t, q.RefID, p.Title)
				assert.NotEmpty(t, q.Expr, p.Title)
				assert.Equal(t, grafanaDatasource{"prometheus", dashboardDatasource}, q.Datasource, p.Title)
			}
		}
	}
}

// exportedNames maps the series names in a /metrics exposition to their
// families: a family's own name, and for histograms and summaries the
// names of their bucket, sum and count series.
func exportedNames(t *testing.T, exposition []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	require.NoError(t, err)
	names := map[string]*dto.MetricFamily{}
	for name, f := range families {
		names[name] = f
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = f, f, f
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = f, f
		}
	}
	return names
}

// Every series the dashboard queries is one a node exports, and every
// synod series a node exports is listed in docs/operations.md: neither
// can drift from the code.
func TestGrafanaDashboardSeriesAreExported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	exported := exportedNames(t, fetchMetrics(t, metricsCluster(t)))

	names := loadDashboard(t).promQLNames()
	require.NotEmpty(t, names)
	var unknown []string
	for _, name := range names {
		if exported[name] == nil {
			unknown = append(unknown, name)
		}
	}
	assert.Empty(t, unknown, "%s queries series no node exports", dashboardPath)

	// The doc names a series in code, followed by its labels if it has any.
	b, err := os.ReadFile(metricsDocPath)
	require.NoError(t, err)
	doc := string(b)
	var undocumented []string
	for name, f := range exported {
		if strings.HasPrefix(name, "synod_") && name == f.GetName() &&
			!strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`"+name+"{") {
			undocumented = append(undocumented, name)
		}
	}
	assert.Empty(t, undocumented, "%s does not list series a node exports", metricsDocPath)
}
