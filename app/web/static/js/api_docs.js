// Konnektor Custody Ledger — the interactive API docs at /docs (app/api/docs_page.py).
//
// Starts the vendored Swagger UI (/static/vendor/swagger-ui, loaded by the page before this
// module runs: a deferred script) on the OpenAPI document the page names in
// data-openapi-url. No inline script exists on the page (the Content-Security-Policy
// forbids it), and nothing is fetched from another origin: no online validator.

const root = document.getElementById("swagger-ui");

SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
});
