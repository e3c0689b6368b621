// The agent's /docs page: Swagger UI (swagger-ui-dist, served by the agent itself) on the
// agent's own /openapi.json. A file of its own, not an inline script, so that the page's CSP can
// be script-src 'self'. No validator badge (Swagger UI would fetch it from validator.swagger.io),
// nothing else remote. "Authorize" takes the bearer token (<data>/agent/token) for "Try it out";
// it is kept in this page's memory only.
/* global window, document, SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  deepLinking: false,
  persistAuthorization: false,
  withCredentials: false,
});
document.documentElement.dataset.docs = 'loaded';
