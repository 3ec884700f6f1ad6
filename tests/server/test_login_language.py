"""The login page speaks the browser's language (Accept-Language) and says so in <html lang>."""

from __future__ import annotations

import requests


def test_login_page_follows_accept_language(server):
    ko = requests.get(server.base + "/login", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}, timeout=30)
    assert ko.status_code == 200
    assert '<html lang="ko">' in ko.text and "로그인" in ko.text and "비밀번호" in ko.text
    assert "Noto Sans CJK KR" in ko.text and "Password" not in ko.text
    en = requests.get(server.base + "/login", headers={"Accept-Language": "en-GB"}, timeout=30)
    assert '<html lang="en">' in en.text and "Password" in en.text and "로그인" not in en.text
    assert '<html lang="en">' in requests.get(server.base + "/login", timeout=30).text


def test_login_messages_follow_the_language(server):
    wrong = requests.Session()
    page = wrong.get(server.base + "/login", headers={"Accept-Language": "ko"}, timeout=30)
    xsrf = wrong.cookies.get("_xsrf")
    r = wrong.post(server.base + "/login", data={"username": "nobody-x", "password": "wrong-password", "_xsrf": xsrf},
                   headers={"Accept-Language": "ko"}, timeout=30, allow_redirects=False)
    assert page.status_code == 200 and "사용자 이름 또는 비밀번호가 올바르지 않습니다." in r.text
