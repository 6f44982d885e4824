// Small behaviours for the setup page. No inline scripts anywhere: the console runs under a
// strict Content-Security-Policy, so everything hangs off ids and data attributes here.
(function () {
  "use strict";

  const IGNORED = new Set(["csrfmiddlewaretoken", "external_id_auto", "endpoint_auto"]);

  function formValues(form) {
    const pairs = [];
    for (const [k, v] of new FormData(form)) {
      if (!IGNORED.has(k)) pairs.push(k + "=" + v);
    }
    return pairs.join("&");
  }

  // Save is usable only when the last successful Test ran on exactly the values in the form.
  function syncSave() {
    const form = document.getElementById("integration-form");
    const save = document.getElementById("save-button");
    if (!form || !save) return;
    const same = form.dataset.tested !== undefined && form.dataset.tested === formValues(form);
    save.disabled = !(save.dataset.ready === "1" && same);
    const note = document.getElementById("save-note");
    if (note) note.hidden = save.dataset.ready !== "1" || same;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "test-button") {
      const form = document.getElementById("integration-form");
      form.dataset.tested = formValues(form);
    }
  });
  document.addEventListener("htmx:afterSettle", syncSave);
  document.addEventListener("htmx:oobAfterSwap", syncSave);

  document.addEventListener("input", function (event) {
    const t = event.target;
    if (t.id === "id_endpoint") document.getElementById("endpoint_auto").value = "0";
    if (t.id === "id_external_id") document.getElementById("external_id_auto").value = "0";
    if (t.closest && t.closest("#integration-form")) syncSave();
  });

  document.addEventListener("change", function (event) {
    const t = event.target;
    if (t.name === "header_secret") {
      const value = t.closest(".header-row").querySelector("input[name=header_value]");
      value.type = t.checked ? "password" : "text";
      value.autocomplete = t.checked ? "new-password" : "off";
    }
    if (t.closest && t.closest("#integration-form")) syncSave();
  });

  document.addEventListener("click", function (event) {
    const t = event.target;
    if (t.id === "add-header") {
      const rows = document.getElementById("header-rows");
      const index = rows.querySelectorAll(".header-row").length;
      const html = document.getElementById("header-row-template").innerHTML.replaceAll("__i__", String(index));
      rows.insertAdjacentHTML("beforeend", html);
      rows.lastElementChild.querySelector("input[name=header_name]").focus();
      syncSave();
    }
    if (t.classList && t.classList.contains("copy")) {
      const source = document.getElementById(t.dataset.copy);
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent).then(function () {
          t.textContent = "Copied";
          setTimeout(function () { t.textContent = "Copy"; }, 1500);
        });
      }
    }
  });

  // Editing a verified integration: its saved values passed their last Test, so Save starts
  // enabled and the first edit disables it.
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("integration-form");
    const save = document.getElementById("save-button");
    if (form && save && save.dataset.ready === "1") form.dataset.tested = formValues(form);
    syncSave();
  });
})();
