"""The clinicians' allowlist, without a server (fast, exhaustive); the throttle: test_throttle.py."""

from __future__ import annotations

import pytest

from lungdx_widgets.server.routes import CLINICIAN_ROUTES, DASHBOARD_PATH, PUBLIC_ROUTES, canonical_path, match

KERNEL = "0b6c1a2e-1111-4222-8333-444455556666"


@pytest.mark.parametrize("method,path", [
    ("GET", DASHBOARD_PATH),
    ("GET", "/login"), ("POST", "/login"), ("GET", "/logout"),
    ("GET", "/voila/static/voila.js"),
    ("GET", "/voila/templates/lab/static/index.css"),
    ("GET", "/voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/remoteEntry.c8c9.js"),
    ("GET", f"/api/kernels/{KERNEL}"), ("GET", f"/api/kernels/{KERNEL}/channels"),
    ("POST", f"/voila/api/shutdown/{KERNEL}"),
])
def test_clinician_may_reach_what_the_dashboard_needs(method, path):
    assert match(CLINICIAN_ROUTES, method, path).allowed


@pytest.mark.parametrize("method,path", [
    ("GET", "/lab"), ("GET", "/lab/tree/notebooks"), ("GET", "/tree"), ("GET", "/files/README.md"),
    ("GET", "/api/contents"), ("GET", "/api/sessions"), ("GET", "/api/terminals"), ("GET", "/api/kernelspecs"),
    ("GET", "/api/kernels"), ("POST", "/api/kernels"), ("DELETE", f"/api/kernels/{KERNEL}"),
    ("POST", f"/api/kernels/{KERNEL}/restart"), ("GET", "/terminals/websocket/1"),
    ("GET", "/voila/render/notebooks/label_review.ipynb"), ("GET", "/voila/tree"), ("GET", "/voila/files/x.png"),
    ("POST", DASHBOARD_PATH),
    # traversal and encoding tricks that would land on the dashboard or leave the static folders
    ("GET", "/voila/render/notebooks/../notebooks/dashboard.ipynb"),
    ("GET", "/voila/render/notebooks/%2E%2E/notebooks/dashboard.ipynb"),
    ("GET", "/voila/render/notebooks/%2e%2e/label_review.ipynb"),
    ("GET", "/voila/render/notebooks/%252e%252e/label_review.ipynb"),
    ("GET", "/voila/render/notebooks/./dashboard.ipynb"),
    ("GET", "/voila/render/notebooks//dashboard.ipynb"),
    ("GET", "/voila/static/../../api/contents"), ("GET", "/voila/static/%2e%2e/%2e%2e/api/contents"),
    ("GET", "/voila/static/..%2f..%2fapi/contents"), ("GET", "/voila/static/x%5c..%5cy"),
    ("GET", "/voila/static/x%00.js"), ("GET", "/voila/static/%ff.js"),
    # case is not folded: another case is simply not on the list
    ("GET", "/VOILA/render/notebooks/dashboard.ipynb"), ("GET", "/voila/render/notebooks/Dashboard.ipynb"),
    ("GET", "/LAB"), ("GET", f"/API/kernels/{KERNEL}/channels"),
])
def test_clinician_is_refused_everything_else(method, path):
    assert not match(CLINICIAN_ROUTES, method, path).allowed


def test_owned_kernel_routes_name_the_kernel_and_others_do_not():
    assert match(CLINICIAN_ROUTES, "GET", f"/api/kernels/{KERNEL}/channels").kernel_id == KERNEL
    assert match(CLINICIAN_ROUTES, "GET", DASHBOARD_PATH).kernel_id is None


def test_canonical_path_respects_base_url():
    assert canonical_path("/lungdx/voila/static/a.js", "/lungdx/") == "/voila/static/a.js"
    assert canonical_path("/other/voila/static/a.js", "/lungdx/") is None
    assert canonical_path("/lungdx", "/lungdx/") == "/"


@pytest.mark.parametrize("path", ["/lab", "/api/kernels", "/voila/static/voila.js", DASHBOARD_PATH, "/api/status"])
def test_anonymous_routes_are_only_login_and_server_assets(path):
    assert not match(PUBLIC_ROUTES, "GET", path).allowed
    assert match(PUBLIC_ROUTES, "GET", "/login").allowed and match(PUBLIC_ROUTES, "GET", "/static/style/x.css").allowed
