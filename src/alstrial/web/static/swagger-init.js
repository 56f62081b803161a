// Starts Swagger UI on alstrial's own schema; a file rather than an inline script, so the
// page keeps the Content-Security-Policy "script-src 'self'".
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
});
