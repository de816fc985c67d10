/* PTA manager dashboard: sign in, funnel (inline SVG chart + table), transit occupancy, CSV.
 * The token lives in this closure only (never in localStorage or sessionStorage); only the
 * chosen language is remembered for the tab. Nothing is inserted as HTML: text only. */
(function () {
  "use strict";

  const I18N = window.PTA_I18N;
  const LANGUAGES = ["en", "es"];
  const LANGUAGE_KEY = "pta.dashboard.language";
  const PROGRAMME_START = "2016-01-01";
  const STAGES = ["identified", "submitted", "in_transit", "resettled"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const FILTER_FIELDS = {
    from: "from",
    to: "to",
    basis: "basis",
    as_of: "asOf",
    origin_country: "originCountry",
    resettlement_country: "resettlementCountry",
    transit_country: "transitCountry",
    group_by: "groupBy",
  };
  const GROUP_LABELS = {
    month: "groupMonth",
    quarter: "groupQuarter",
    year: "groupYear",
    origin_country: "originCountry",
    resettlement_country: "resettlementCountry",
  };
  /* ISO 3166-1 alpha-3 → alpha-2 for the countries the programme usually meets (names come
   * from the browser's Intl.DisplayNames; other codes are shown as they are). */
  const ALPHA2 = {
    ARG: "AR", AUS: "AU", BLZ: "BZ", BRA: "BR", CAN: "CA", CHL: "CL", COL: "CO", CRI: "CR",
    DEU: "DE", ECU: "EC", ESP: "ES", FRA: "FR", GBR: "GB", GTM: "GT", HND: "HN", MEX: "MX",
    NIC: "NI", NZL: "NZ", PAN: "PA", PER: "PE", SLV: "SV", SWE: "SE", URY: "UY", USA: "US",
    VEN: "VE",
  };
  const USUAL = ["SLV", "GTM", "HND", "CRI", "PAN", "MEX", "USA", "CAN", "AUS", "BRA", "URY"];
  /* groupings along time get a trend chart above their table */
  const PERIODS = ["month", "quarter", "year"];
  /* the charts are drawn at the width they are shown (one SVG unit is one CSS pixel), so their
     text keeps its size on a phone; below this width a share of people identified goes under
     its stage's name */
  const NARROW = 480;
  const FALLBACK_WIDTH = 600;

  const state = {
    language: initialLanguage(),
    token: null,
    expiry: null,
    me: null,
    report: null,
    /* the parameters of the funnel on screen (the CSV downloads exactly that) */
    shown: null,
    transit: null,
    /* the grouping on screen: the groups' table is opened or closed for a new grouping only,
       so what the user chose stays while they change other filters */
    groupedAs: null,
    sequence: 0,
    session: 0,
  };

  /* ---------- helpers ---------- */

  function $(id) {
    return document.getElementById(id);
  }

  function initialLanguage() {
    let chosen = null;
    try {
      chosen = window.sessionStorage.getItem(LANGUAGE_KEY);
    } catch (error) {
      chosen = null; // storage disabled: fall back to what the server chose
    }
    if (LANGUAGES.includes(chosen)) return chosen;
    const served = document.documentElement.lang;
    return LANGUAGES.includes(served) ? served : "en";
  }

  function t(key, values) {
    const table = I18N[state.language] || I18N.en;
    const template = table[key] !== undefined ? table[key] : I18N.en[key] !== undefined ? I18N.en[key] : key;
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      if (!values || values[name] === undefined) return whole;
      const value = values[name];
      return Array.isArray(value) ? value.map((item) => t(item)).join(", ") : String(value);
    });
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function svgElement(tag, attributes, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function number(value) {
    return new Intl.NumberFormat(state.language).format(value);
  }

  function decimal(value) {
    return new Intl.NumberFormat(state.language, { maximumFractionDigits: 1 }).format(value);
  }

  function percent(value) {
    return new Intl.NumberFormat(state.language, { style: "percent", maximumFractionDigits: 0 }).format(value);
  }

  function longDate(iso) {
    const day = new Date(iso + "T00:00:00Z");
    if (Number.isNaN(day.getTime())) return iso;
    return new Intl.DateTimeFormat(state.language, { dateStyle: "long", timeZone: "UTC" }).format(day);
  }

  function todayUtc() {
    return new Date().toISOString().slice(0, 10);
  }

  function countryName(code) {
    if (!code) return t("groupNoKey");
    const alpha2 = ALPHA2[code];
    if (alpha2 && typeof Intl.DisplayNames === "function") {
      try {
        const name = new Intl.DisplayNames([state.language], { type: "region" }).of(alpha2);
        if (name && name !== alpha2) return name + " (" + code + ")";
      } catch (error) {
        return code;
      }
    }
    return code;
  }

  function groupLabel(groupBy, key) {
    if (key === null || key === undefined) return t("groupNoKey");
    if (groupBy === "origin_country" || groupBy === "resettlement_country") return countryName(key);
    if (groupBy === "month") {
      const day = new Date(key + "-01T00:00:00Z");
      if (Number.isNaN(day.getTime())) return key;
      return new Intl.DateTimeFormat(state.language, { month: "short", year: "numeric", timeZone: "UTC" }).format(day);
    }
    if (groupBy === "quarter") {
      const match = /^(\d{4})-Q(\d)$/.exec(key);
      return match ? t("quarterLabel", { year: match[1], quarter: match[2] }) : key;
    }
    return key;
  }

  /* A message kept as (key, values) so a language switch can re-render it. */
  function setMessage(id, key, values, isError) {
    const node = $(id);
    node.dataset.key = key || "";
    node.dataset.values = values ? JSON.stringify(values) : "";
    node.classList.toggle("error", Boolean(isError));
    node.textContent = key ? t(key, values) : "";
  }

  function refreshMessages() {
    document.querySelectorAll(".message").forEach(function (node) {
      if (!node.dataset.key) return;
      node.textContent = t(node.dataset.key, node.dataset.values ? JSON.parse(node.dataset.values) : undefined);
    });
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* ---------- talking to the service ---------- */

  class ApiError extends Error {
    constructor(key, values) {
      super(key || "silent");
      this.key = key;
      this.values = values;
    }
  }

  async function api(path, params, accept) {
    const target = new URL(path, document.baseURI);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) target.searchParams.set(name, value);
    }
    let response;
    try {
      response = await fetch(target, {
        headers: { Authorization: "Bearer " + state.token, Accept: accept || "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError("errorNetwork");
    }
    if (response.status === 401) {
      endSession("errorSessionEnded", true);
      throw new ApiError(null);
    }
    if (response.status === 403) throw new ApiError("errorForbidden");
    if (response.status === 422) {
      const problem = await response.json().catch(() => null);
      const fields = [];
      for (const item of (problem && problem.errors) || []) {
        const name = Array.isArray(item.loc) ? item.loc[item.loc.length - 1] : null;
        const key = FILTER_FIELDS[name];
        if (key && !fields.includes(key)) fields.push(key);
      }
      throw fields.length
        ? new ApiError("errorInvalidFilters", { fields: fields })
        : new ApiError("errorInvalidFiltersGeneric");
    }
    if (!response.ok) throw new ApiError("errorServer", { status: response.status });
    return response;
  }

  async function signIn(event) {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!username || !password) {
      setMessage("sign-in-message", "errorMissingCredentials", null, true);
      return;
    }
    const button = $("sign-in-button");
    button.disabled = true;
    setMessage("sign-in-message", "signingIn");
    let response;
    try {
      response = await fetch(new URL("api/v1/auth/token", document.baseURI), {
        method: "POST",
        body: new URLSearchParams({ username: username, password: password }),
        headers: { Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      setMessage("sign-in-message", "errorNetwork", null, true);
      return;
    } finally {
      button.disabled = false;
    }
    if (response.status === 401) {
      $("password").value = "";
      setMessage("sign-in-message", "errorCredentials", null, true);
      $("password").focus();
      return;
    }
    if (response.status === 429) {
      const seconds = parseInt(response.headers.get("Retry-After") || "900", 10);
      const minutes = Math.max(1, Math.ceil((Number.isNaN(seconds) ? 900 : seconds) / 60));
      setMessage("sign-in-message", "errorRateLimited", { minutes: minutes }, true);
      return;
    }
    if (!response.ok) {
      setMessage("sign-in-message", "errorServer", { status: response.status }, true);
      return;
    }
    const body = await response.json();
    $("password").value = "";
    state.token = body.access_token;
    state.session += 1;
    const seconds = Number(body.expires_in) || 1800;
    state.expiry = window.setTimeout(() => endSession("errorSessionEnded", true), seconds * 1000);
    setMessage("sign-in-message", null);
    try {
      state.me = await (await api("api/v1/me")).json();
    } catch (error) {
      state.me = null;
    }
    if (!state.token) return; // the session ended while asking who we are
    showDashboard();
    loadFunnel();
    loadTransit();
  }

  function endSession(messageKey, isError) {
    state.token = null;
    state.me = null;
    state.report = null;
    state.shown = null;
    state.transit = null;
    state.groupedAs = null;
    state.sequence += 1;
    state.session += 1;
    if (state.expiry !== null) window.clearTimeout(state.expiry);
    state.expiry = null;
    for (const id of ["funnel-chart", "funnel-head", "funnel-body", "groups-head", "transit-head", "transit-body"]) {
      clear($(id));
    }
    clearGroups();
    for (const id of ["funnel-caption", "transit-caption"]) $(id).textContent = "";
    setMessage("funnel-status", null);
    setMessage("transit-status", null);
    $("dashboard-view").hidden = true;
    $("session").hidden = true;
    $("sign-in-view").hidden = false;
    setMessage("sign-in-message", messageKey, null, isError);
    $("username").focus();
  }

  function showDashboard() {
    $("sign-in-view").hidden = true;
    $("dashboard-view").hidden = false;
    $("session").hidden = false;
    renderWho();
    $("funnel-heading").focus();
  }

  function renderWho() {
    const who = $("who");
    who.textContent = state.me
      ? t("signedInAs", { user: state.me.username, role: t("role_" + state.me.role) })
      : "";
  }

  /* ---------- the funnel ---------- */

  function setDefaults() {
    const today = todayUtc();
    $("f-from").value = PROGRAMME_START;
    $("f-to").value = today;
    $("f-as-of").value = today;
    $("f-basis").value = "cumulative";
    $("f-group-by").value = "";
    for (const id of ["f-origin", "f-resettlement", "f-transit"]) $(id).value = "";
    for (const id of ["f-from", "f-to", "f-as-of"]) $(id).max = today;
    syncAsOf();
  }

  /* "As of" only means something for a cohort (cumulative counts end on the last day) */
  function syncAsOf() {
    $("f-as-of").disabled = $("f-basis").value !== "cohort";
  }

  function currentParams() {
    const form = $("filters");
    for (const input of form.querySelectorAll("input.country")) {
      input.value = input.value.trim().toUpperCase();
      input.setAttribute("aria-invalid", String(!input.checkValidity()));
    }
    if (!form.reportValidity()) return null;
    const params = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (typeof value === "string" && value !== "") params[name] = value;
    }
    if (params.from && params.to && params.from > params.to) {
      setMessage("funnel-status", "errorInvalidFilters", { fields: ["from", "to"] }, true);
      return null;
    }
    return params;
  }

  async function loadFunnel() {
    const params = currentParams();
    if (params === null) return;
    const sequence = ++state.sequence;
    const result = $("funnel-result");
    result.setAttribute("aria-busy", "true");
    setMessage("funnel-status", "loading");
    try {
      const report = await (await api("api/v1/reports/funnel", params)).json();
      if (sequence !== state.sequence) return;
      state.report = report;
      state.shown = params;
      renderFunnel();
      setMessage("funnel-status", "loaded");
    } catch (error) {
      if (sequence !== state.sequence || !(error instanceof ApiError)) return;
      if (error.key) setMessage("funnel-status", error.key, error.values, true);
    } finally {
      if (sequence === state.sequence) result.setAttribute("aria-busy", "false");
    }
  }

  function renderFunnel() {
    const report = state.report;
    if (!report) return;
    const cohort = report.basis === "cohort";
    const caption = [
      t(cohort ? "captionCohort" : "captionCumulative", {
        from: longDate(report.from),
        to: longDate(report.to),
        asOf: longDate(report.as_of),
      }),
    ];
    const filters = Object.entries(report.filters || {}).map(
      ([name, value]) => t(FILTER_FIELDS[name] || name) + ": " + countryName(value)
    );
    if (filters.length) caption.push(t("captionFilters", { filters: filters.join("; ") }));
    $("funnel-caption").textContent = caption.join(" ");
    $("funnel-result").dataset.basis = report.basis;
    renderChart(report.stages, caption.join(" "), cohort);
    renderTotals(report.stages, cohort);
    renderGroups(report, cohort);
    renderTrend(report, cohort);
  }

  /* A chart of width × height CSS pixels (one SVG unit is one pixel), named for assistive
     technology by its title and description. */
  function chartSvg(name, width, height, title, description) {
    const chart = svgElement("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: width,
      height: height,
      role: "img",
      "aria-labelledby": name + "-title " + name + "-desc",
      class: name,
    });
    chart.appendChild(svgElement("title", { id: name + "-title" }, title));
    chart.appendChild(svgElement("desc", { id: name + "-desc" }, description));
    return chart;
  }

  /* the width a chart's holder offers, in CSS pixels */
  function chartWidth(holder) {
    return Math.floor(holder.clientWidth) || FALLBACK_WIDTH;
  }

  function headerRow(row, keys) {
    clear(row);
    for (const key of keys) row.appendChild(element("th", { scope: "col" }, t(key)));
  }

  function stageCells(row, stage, cohort, group) {
    const base = { "data-stage": stage.stage };
    if (group !== undefined) base["data-group"] = group === null ? "" : group;
    row.appendChild(element("td", Object.assign({ "data-measure": "cases", class: "num" }, base), number(stage.cases)));
    row.appendChild(element("td", Object.assign({ "data-measure": "people", class: "num" }, base), number(stage.people)));
    if (cohort) {
      const median = stage.median_days === null || stage.median_days === undefined ? "—" : decimal(stage.median_days);
      row.appendChild(element("td", Object.assign({ "data-measure": "median_days", class: "num" }, base), median));
    }
  }

  function renderTotals(stages, cohort) {
    headerRow($("funnel-head"), cohort ? ["stage", "cases", "people", "medianDays"] : ["stage", "cases", "people"]);
    $("median-note").hidden = !cohort;
    const body = $("funnel-body");
    clear(body);
    for (const stage of stages) {
      const row = element("tr");
      row.appendChild(element("th", { scope: "row" }, t("stage_" + stage.stage)));
      stageCells(row, stage, cohort);
      body.appendChild(row);
    }
  }

  function clearGroups() {
    const table = $("groups-table");
    for (const body of Array.from(table.tBodies)) table.removeChild(body);
    clear($("trend-chart"));
    clear($("trend-legend"));
    $("trend").hidden = true;
    $("groups-view").hidden = true;
  }

  function groupName(groupBy) {
    return t(GROUP_LABELS[groupBy]).toLowerCase();
  }

  function renderGroups(report, cohort) {
    clearGroups();
    if (!report.group_by || !report.groups || report.groups.length === 0) {
      state.groupedAs = null;
      return;
    }
    const table = $("groups-table");
    const group = groupName(report.group_by);
    $("groups-caption").textContent = t("groupsCaption", { group: group });
    $("groups-summary").textContent = t("groupsSummary", { group: group, count: number(report.groups.length) });
    /* along time the trend chart shows the groups and the long table waits behind its summary;
       by country the table is the only view of the groups, so it is open */
    if (state.groupedAs !== report.group_by) {
      $("groups-details").open = !PERIODS.includes(report.group_by);
      state.groupedAs = report.group_by;
    }
    /* each group's name heads its own rows, so the table has the funnel table's columns and
       fits a phone as that one does */
    const keys = cohort ? ["stage", "cases", "people", "medianDays"] : ["stage", "cases", "people"];
    headerRow($("groups-head"), keys);
    for (const group of report.groups) {
      const body = element("tbody", { "data-group": group.key === null ? "" : group.key });
      const heading = element("tr", { class: "group-row" });
      heading.appendChild(element("th", { scope: "rowgroup", colspan: String(keys.length) }, groupLabel(report.group_by, group.key)));
      body.appendChild(heading);
      for (const stage of group.stages) {
        const row = element("tr");
        row.appendChild(element("th", { scope: "row" }, t("stage_" + stage.stage)));
        stageCells(row, stage, cohort, group.key);
        body.appendChild(row);
      }
      table.appendChild(body);
    }
    $("groups-view").hidden = false;
  }

  /* every period from the report's first day to its last, as the API writes their keys */
  function periodKeys(groupBy, from, to) {
    const keys = [];
    let year = Number(from.slice(0, 4));
    let month = Number(from.slice(5, 7));
    const last = Number(to.slice(0, 4)) * 12 + Number(to.slice(5, 7));
    const step = groupBy === "month" ? 1 : groupBy === "quarter" ? 3 : 12;
    if (groupBy === "quarter") month -= (month - 1) % 3;
    if (groupBy === "year") month = 1;
    while (year * 12 + month <= last) {
      if (groupBy === "month") keys.push(year + "-" + String(month).padStart(2, "0"));
      else if (groupBy === "quarter") keys.push(year + "-Q" + ((month + 2) / 3));
      else keys.push(String(year));
      month += step;
      if (month > 12) {
        year += 1;
        month -= 12;
      }
    }
    return keys;
  }

  /* a round number at or above the largest value, for the top of the axis */
  function niceCeiling(value) {
    if (value <= 4) return 4;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const factor of [1, 2, 2.5, 5, 10]) {
      if (factor * power >= value) return factor * power;
    }
    return 10 * power;
  }

  /* the years along the axis: at the first period of each year, as many as fit */
  function axisLabels(groupBy, keys, spacing) {
    const room = 44; // px for "2016" and a gap
    const perYear = groupBy === "month" ? 12 : groupBy === "quarter" ? 4 : 1;
    const every = Math.max(1, Math.ceil(room / Math.max(1, spacing * perYear)));
    const starts = [];
    keys.forEach(function (key, index) {
      if (groupBy === "year" || key.endsWith("-01") || key.endsWith("-Q1")) starts.push({ index: index, text: key.slice(0, 4) });
    });
    const marks = starts.filter((mark, position) => position % every === 0);
    if (marks.length === 0 || marks[0].index * spacing >= room) marks.unshift({ index: 0, text: keys[0].slice(0, 4) });
    return marks;
  }

  function renderTrend(report, cohort) {
    if (!PERIODS.includes(report.group_by) || !report.groups || report.groups.length === 0) return;
    const keys = periodKeys(report.group_by, report.from, report.to);
    if (keys.length === 0) return;
    const byKey = new Map(report.groups.map((group) => [group.key, group.stages]));
    const series = STAGES.map(function (stage) {
      return keys.map(function (key) {
        const found = (byKey.get(key) || []).find((item) => item.stage === stage);
        return found ? found.people : 0;
      });
    });
    const figure = $("trend");
    figure.hidden = false;
    const group = groupName(report.group_by);
    $("trend-heading").textContent = t(cohort ? "trendTitleCohort" : "trendTitle", { group: group });

    const legend = $("trend-legend");
    clear(legend);
    for (const stage of STAGES) {
      const item = element("li", { class: "line-" + stage });
      const swatch = svgElement("svg", { viewBox: "0 0 28 10", width: 28, height: 10, "aria-hidden": "true", focusable: "false" });
      swatch.appendChild(svgElement("line", { x1: 0, y1: 5, x2: 28, y2: 5, class: "trend-line" }));
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(t("stage_" + stage)));
      legend.appendChild(item);
    }

    const holder = $("trend-chart");
    const width = chartWidth(holder);
    const height = 220;
    const top = 10;
    const bottom = 26;
    const ceiling = niceCeiling(Math.max(...series.flat()));
    const left = Math.max(28, 9 * number(ceiling).length + 10);
    const right = 20;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const spacing = keys.length > 1 ? plotWidth / (keys.length - 1) : 0;
    const x = (index) => left + (keys.length > 1 ? index * spacing : plotWidth / 2);
    const y = (value) => top + plotHeight - (value / ceiling) * plotHeight;

    const span = { first: groupLabel(report.group_by, keys[0]), last: groupLabel(report.group_by, keys[keys.length - 1]) };
    const chart = chartSvg("trend-chart", width, height, $("trend-heading").textContent, t("trendDesc", span));
    const axis = svgElement("g", { class: "axis" });
    for (const value of [0, ceiling / 2, ceiling]) {
      axis.appendChild(svgElement("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: value === 0 ? "baseline" : "grid" }));
      axis.appendChild(svgElement("text", { x: left - 6, y: y(value), class: "tick y", "text-anchor": "end", "dominant-baseline": "central" }, number(value)));
    }
    for (const mark of axisLabels(report.group_by, keys, spacing)) {
      axis.appendChild(svgElement("line", { x1: x(mark.index), x2: x(mark.index), y1: top + plotHeight, y2: top + plotHeight + 5, class: "baseline" }));
      const anchor = mark.index === 0 && keys.length > 1 ? "start" : "middle";
      axis.appendChild(svgElement("text", { x: x(mark.index), y: height - 6, class: "tick x", "text-anchor": anchor }, mark.text));
    }
    chart.appendChild(axis);
    STAGES.forEach(function (stage, index) {
      const points = series[index].map((value, at) => x(at).toFixed(1) + "," + y(value).toFixed(1)).join(" ");
      const line = svgElement("g", { class: "line-" + stage, "data-stage": stage });
      line.appendChild(svgElement("polyline", { points: points, class: "trend-line" }));
      if (keys.length <= 24) {
        series[index].forEach(function (value, at) {
          line.appendChild(svgElement("circle", { cx: x(at).toFixed(1), cy: y(value).toFixed(1), r: 3, class: "trend-point" }));
        });
      }
      chart.appendChild(line);
    });
    clear(holder);
    holder.appendChild(chart);
  }

  function renderChart(stages, caption, cohort) {
    const holder = $("funnel-chart");
    const width = chartWidth(holder);
    /* on a narrow chart the share of people identified goes under the stage's name */
    const rateBelow = cohort && width < NARROW;
    const left = 8;
    const valueRoom = 64;
    const plot = width - left - valueRoom;
    const legendHeight = 34;
    const largest = Math.max(1, ...stages.map((stage) => Math.max(stage.people, stage.cases)));
    const identified = stages.find((stage) => stage.stage === "identified");
    /* "of people identified" means something only for one cohort: on the cumulative basis
       the people resettled in a period were mostly identified before it */
    const withRate = (stage) => cohort && stage.stage !== "identified" && identified && identified.people > 0;
    const labelHeight = (stage) => (rateBelow && withRate(stage) ? 42 : 24);
    const rowHeight = (stage) => labelHeight(stage) + 60;
    const height = legendHeight + stages.reduce((sum, stage) => sum + rowHeight(stage), 0);

    const lines = stages.map((stage) =>
      t("chartStage", { stage: t("stage_" + stage.stage), cases: number(stage.cases), people: number(stage.people) })
    );
    const chart = chartSvg("funnel-chart", width, height, t("chartTitle"), caption + " " + lines.join(" "));

    const legend = svgElement("g", { class: "legend" });
    legend.appendChild(svgElement("rect", { x: left, y: 6, width: 14, height: 14, class: "bar-people" }));
    legend.appendChild(svgElement("text", { x: left + 20, y: 18 }, t("people")));
    legend.appendChild(svgElement("rect", { x: left + 130, y: 6, width: 14, height: 14, class: "bar-cases" }));
    legend.appendChild(svgElement("text", { x: left + 150, y: 18 }, t("cases")));
    chart.appendChild(legend);

    let top = legendHeight;
    stages.forEach(function (stage) {
      const row = svgElement("g", { class: "stage", "data-stage": stage.stage });
      const label = svgElement("text", { x: left, y: top + 16, class: "stage-label" });
      label.appendChild(svgElement("tspan", {}, t("stage_" + stage.stage)));
      if (withRate(stage)) {
        const place = rateBelow ? { x: left, dy: 18 } : { dx: 10 };
        label.appendChild(
          svgElement("tspan", Object.assign({ class: "rate" }, place), t("ofIdentified", { percent: percent(stage.people / identified.people) }))
        );
      }
      row.appendChild(label);
      [
        ["people", top + labelHeight(stage)],
        ["cases", top + labelHeight(stage) + 26],
      ].forEach(function ([measure, y]) {
        const value = stage[measure];
        const barWidth = value > 0 ? Math.max(2, (value / largest) * plot) : 0;
        row.appendChild(svgElement("rect", { x: left, y: y, width: barWidth.toFixed(1), height: 22, rx: 2, class: "bar-" + measure }));
        row.appendChild(
          svgElement(
            "text",
            { x: (left + barWidth + 6).toFixed(1), y: y + 16, class: "value", "data-stage": stage.stage, "data-measure": measure },
            number(value)
          )
        );
      });
      chart.appendChild(row);
      top += rowHeight(stage);
    });

    clear(holder);
    holder.appendChild(chart);
  }

  /* draw the charts again when the space they are given changes (a phone turned, a window
     resized), so that their text stays the size it was written at */
  function watchChartWidths() {
    if (typeof ResizeObserver !== "function") return;
    const drawn = new Map();
    const observer = new ResizeObserver(function (entries) {
      for (const entry of entries) {
        const width = Math.floor(entry.contentRect.width);
        if (width === 0 || drawn.get(entry.target) === width) continue;
        const first = !drawn.has(entry.target);
        drawn.set(entry.target, width);
        if (!first && state.report) renderFunnel();
      }
    });
    for (const id of ["funnel-chart", "trend-chart"]) observer.observe($(id));
  }

  async function downloadCsv() {
    const params = Object.assign({}, state.shown || currentParams() || {});
    params.format = "csv";
    setMessage("funnel-status", "downloading");
    try {
      const response = await api("api/v1/reports/funnel", params, "text/csv");
      const blob = await response.blob();
      /* the service's name says what the file holds (basis, period, "as of", filters) */
      const given = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const name = given
        ? given[1]
        : "pta-funnel-" + (params.basis || "cumulative") + "-" + (params.from || PROGRAMME_START) + "-" + (params.to || todayUtc()) + ".csv";
      const href = URL.createObjectURL(blob);
      const link = element("a", { href: href, download: name, hidden: "" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(href), 60000);
      setMessage("funnel-status", "downloaded", { name: name });
    } catch (error) {
      if (error instanceof ApiError && error.key) setMessage("funnel-status", error.key, error.values, true);
    }
  }

  /* ---------- transit occupancy ---------- */

  async function loadTransit() {
    const session = state.session;
    setMessage("transit-status", "loading");
    try {
      const report = await (await api("api/v1/reports/transit")).json();
      if (session !== state.session) return;
      state.transit = report;
      renderTransit();
      setMessage("transit-status", null);
    } catch (error) {
      if (session !== state.session) return;
      if (error instanceof ApiError && error.key) setMessage("transit-status", error.key, error.values, true);
    }
  }

  /* One column per transit country, one row per measure: the programme has few transit
     countries, so the table stays narrow enough for a phone. */
  function renderTransit() {
    const report = state.transit;
    if (!report) return;
    $("transit-caption").textContent = t("transitCaption", { asOf: longDate(report.as_of) });
    const head = $("transit-head");
    clear(head);
    head.appendChild(element("th", { scope: "col" }, t("measure")));
    const body = $("transit-body");
    clear(body);
    if (!report.countries.length) {
      const row = element("tr");
      row.appendChild(element("td", { class: "empty" }, t("noTransit")));
      body.appendChild(row);
      return;
    }
    for (const country of report.countries) {
      head.appendChild(element("th", { scope: "col", "data-country": country.transit_country }, countryName(country.transit_country)));
    }
    const measures = [
      ["households", "households", (country) => number(country.households_in_transit)],
      ["people", "people", (country) => number(country.people_in_transit)],
      ["capacity", "capacity", (country) => (country.capacity === null ? t("notConfigured") : number(country.capacity))],
      ["occupancy", "occupancy", (country) => (country.occupancy === null ? "—" : percent(country.occupancy))],
      ["ending_within_30_days", "endingSoon", (country) => number(country.ending_within_30_days)],
      ["overstays", "overstays", (country) => number(country.overstays)],
    ];
    for (const [measure, label, text] of measures) {
      const row = element("tr", { "data-measure": measure });
      row.appendChild(element("th", { scope: "row" }, t(label)));
      for (const country of report.countries) {
        const cell = element("td", { class: "num", "data-country": country.transit_country, "data-measure": measure }, text(country));
        if (measure === "occupancy" && country.occupancy !== null) {
          cell.classList.toggle("over", country.occupancy > 1);
          cell.appendChild(element("meter", { min: "0", max: "1", low: "0.75", high: "0.9", optimum: "0.5", value: String(country.occupancy), "aria-hidden": "true" }));
        }
        if (measure === "overstays") cell.classList.toggle("alert", country.overstays > 0);
        row.appendChild(cell);
      }
      body.appendChild(row);
    }
  }

  /* ---------- language ---------- */

  function applyLanguage(language) {
    state.language = LANGUAGES.includes(language) ? language : "en";
    document.documentElement.lang = state.language;
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.dataset.i18n);
    });
    document.querySelectorAll("button.lang").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === state.language));
    });
    const list = $("countries");
    clear(list);
    for (const code of USUAL) list.appendChild(element("option", { value: code, label: countryName(code) }));
    refreshMessages();
    renderWho();
    renderFunnel();
    renderTransit();
  }

  function chooseLanguage(event) {
    const language = event.currentTarget.dataset.lang;
    try {
      window.sessionStorage.setItem(LANGUAGE_KEY, language);
    } catch (error) {
      /* storage disabled: the choice lasts until the page is reloaded */
    }
    applyLanguage(language);
  }

  /* ---------- start ---------- */

  function start() {
    setDefaults();
    applyLanguage(state.language);
    $("sign-in").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => endSession("signedOut", false));
    $("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      loadFunnel();
    });
    $("reset").addEventListener("click", function () {
      setDefaults();
      loadFunnel();
    });
    $("download").addEventListener("click", downloadCsv);
    $("f-basis").addEventListener("change", syncAsOf);
    /* a bad country is marked on its own field, for assistive technology too */
    document.querySelectorAll("input.country").forEach(function (input) {
      input.addEventListener("invalid", () => input.setAttribute("aria-invalid", "true"));
      input.addEventListener("input", () => input.setAttribute("aria-invalid", String(!input.checkValidity())));
    });
    document.querySelectorAll("button.lang").forEach((button) => button.addEventListener("click", chooseLanguage));
    watchChartWidths();
    document.body.dataset.ready = "true";
  }

  start();
})();
