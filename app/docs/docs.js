/* Swagger UI for /openapi.json. "Authorize" signs in with a username and password (the
   OAuth2 password flow against POST /api/v1/auth/token); the token stays in the page's
   memory (persistAuthorization is off). Nothing is loaded from outside the service. */
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = window.SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
