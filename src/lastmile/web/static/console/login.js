// The login screen (and the "wrong role" page's sign-out button).
import { api, ApiError } from "./api.js";
import { applyI18n, t, wireLangSwitch } from "./i18n.js";

applyI18n();
wireLangSwitch();

const form = document.getElementById("login-form");
if (form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("login-error");
    error.hidden = true;
    try {
      await api("POST", "/auth/login", { form: new URLSearchParams(new FormData(form)) });
      location.reload();
    } catch (e) {
      error.textContent = e instanceof ApiError && (e.status === 401 || e.status === 422) ? t("login.failed") : `${t("error")}: ${e.message}`;
      error.hidden = false;
    }
  });
}
const logout = document.getElementById("logout-form");
if (logout) {
  logout.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await api("POST", "/auth/logout"); } finally { location.reload(); }
  });
}
