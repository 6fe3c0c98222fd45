// The gateway's GraphiQL page: a token box above GraphiQL, and a fetcher that POSTs JSON to the gateway.
// Kept out of index.html because the page's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var KEY = "civic-gateway:graphiql-token";
  var DEFAULT_QUERY = "# Paste a token in the box above (Enter), then run this with the \u25B6 button.\n" +
    "# Headers set in GraphiQL's own Headers tab win over the box.\n" +
    "{\n  persons(first: 2) {\n    totalCount\n  }\n}\n";

  var mount = document.getElementById("graphiql");
  var endpoint = mount.getAttribute("data-endpoint");
  var form = document.getElementById("token-bar");
  var input = document.getElementById("token");
  var status = document.getElementById("token-status");

  function storage() {  // localStorage throws in some locked-down browser profiles: the box then just forgets
    try { return window.localStorage; } catch (e) { return null; }
  }

  function token() {
    return input.value.trim().replace(/^Bearer\s+/i, "");
  }

  // Shows who the token says it is, so a developer sees at once a wrong role or an expired token.
  // Only a display: the gateway verifies the signature and decides.
  function describe(t) {
    if (!t) { return { text: "no token: queries answer UNAUTHENTICATED", bad: true }; }
    try {
      var part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
      var left = Math.round((claims.exp * 1000 - Date.now()) / 60000);
      var who = (claims.sub || "?") + " \u00B7 " + (claims.roles || []).join(", ");
      return left > 0 ? { text: who + " \u00B7 expires in " + left + " min", bad: false }
                      : { text: who + " \u00B7 expired", bad: true };
    } catch (e) {
      return { text: "not a JWT", bad: true };
    }
  }

  function showStatus() {
    var d = describe(token());
    status.textContent = d.text;
    status.className = d.bad ? "bad" : "";
  }

  function fetcher(params, opts) {
    var headers = new Headers({ "Content-Type": "application/json", "Accept": "application/json" });
    var t = token();
    if (t) { headers.set("Authorization", "Bearer " + t); }
    var extra = (opts && opts.headers) || {};
    Object.keys(extra).forEach(function (k) { headers.set(k, String(extra[k])); });
    return fetch(endpoint, { method: "POST", headers: headers, body: JSON.stringify(params),
                             credentials: "omit", cache: "no-store" })
      .then(function (r) {
        return r.text().then(function (text) {
          try { return JSON.parse(text); } catch (e) {  // e.g. a proxy's HTML error page
            return { errors: [{ message: "HTTP " + r.status + ": " + text.slice(0, 500) }] };
          }
        });
      });
  }

  var root = ReactDOM.createRoot(mount);
  var generation = 0;

  // A new key remounts GraphiQL, which fetches the schema again with the new token
  // (the query text survives: GraphiQL keeps it in localStorage).
  function render() {
    generation += 1;
    root.render(React.createElement(GraphiQL, {
      key: generation,
      fetcher: fetcher,
      // no token, no schema request: it could only answer UNAUTHENTICATED (a query run still shows why)
      schema: token() ? undefined : null,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,  // headers may hold tokens: not written to localStorage
    }));
  }

  var applied = null;

  function apply() {
    if (token() === applied) { return; }  // Enter fires both change and submit: remount once
    applied = token();
    var s = storage();
    if (s) {
      if (token()) { s.setItem(KEY, token()); } else { s.removeItem(KEY); }
    }
    showStatus();
    render();
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); apply(); });
  input.addEventListener("change", apply);
  input.addEventListener("input", showStatus);
  document.getElementById("token-clear").addEventListener("click", function () {
    input.value = "";
    apply();
  });

  var saved = storage();
  input.value = (saved && saved.getItem(KEY)) || "";
  apply();
})();
