"""The interactive docs page: Swagger UI from the assets the swagger-ui-bundle package ships,
so /docs works with no internet. Adapters serve `ASSETS_DIR` at `ASSETS_PATH` and this page
at /docs."""

from __future__ import annotations

import html
import json
from pathlib import Path

import swagger_ui_bundle

ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)
ASSETS_PATH = "/docs/assets"
TITLE = "scopes-arena"


def swagger_ui_page(openapi_url: str = "/openapi.json", title: str = TITLE) -> str:
    config = json.dumps({"url": openapi_url, "dom_id": "#swagger-ui", "deepLinking": True})
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="stylesheet" type="text/css" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>
const config = {config};
config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
config.layout = "BaseLayout";
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
"""
