// Small behaviours for the setup page. No inline scripts anywhere: the console runs under a
// strict Content-Security-Policy, so everything hangs off ids and data attributes here.
(function () {
  "use strict";

  // Not part of what a Test proves: changing them keeps Save as it is (prices are saved, not
  // tested; the API model name is the OpenAI-compatible API's name for the integration).
  const IGNORED = new Set([
    "csrfmiddlewaretoken", "external_id_auto", "endpoint_auto",
    "price_input_per_1k", "price_output_per_1k", "api_name",
  ]);

  function formValues(form) {
    const pairs = [];
    for (const [k, v] of new FormData(form)) {
      if (!IGNORED.has(k)) pairs.push(k + "=" + v);
    }
    return pairs.join("&");
  }

  // The form's values as formValues gives them, kept until the form changes (an edit, a row
  // added, a swap that brings fields): reading them goes over the whole page (FormData), and
  // Save is re-checked after every swap, live updates included, where nothing in the form moved.
  let known = null;
  function currentValues(form) {
    if (known === null || known.form !== form) known = { form: form, values: formValues(form) };
    return known.values;
  }
  function formChanged() { known = null; }
  function bringsFields(elt) {
    return !!(elt && elt.matches && (elt.matches("input, select, textarea") ||
      elt.querySelector("input, select, textarea")));
  }

  // Save is usable only when the last successful Test ran on exactly the values in the form.
  function syncSave() {
    const form = document.getElementById("integration-form");
    const save = document.getElementById("save-button");
    if (!form || !save) return;
    // An answer about an earlier test (one the result box no longer shows) does not count.
    const shown = !save.dataset.test ||
      document.querySelector('#test-result [data-test="' + save.dataset.test + '"]') !== null;
    const same = shown && form.dataset.tested !== undefined && form.dataset.tested === currentValues(form);
    save.disabled = !(save.dataset.ready === "1" && same);
    const note = document.getElementById("save-note");
    if (note) note.hidden = save.dataset.ready !== "1" || same;
  }

  // Prefill (the setup form's External ID, Endpoint and Request JSON; the prompt form's Request
  // JSON and paths). An element with data-suggests="<field names>" asks the server, whose
  // suggestions arrive as data (the consoleSuggest event), never as swapped inputs. One applies
  // to a field only if the admin has not typed in it since they were asked for and it still
  // holds the value it had then (or is empty). An older answer is dropped.
  const edits = {};  // field name -> number of edits by the admin
  let assistSeq = 0;
  let asked = null;  // {seq, form, values, edits} of the latest request
  let pending = 0;   // suggestion requests in flight
  let settled = [];  // callbacks waiting for them to end
  let applying = false;  // a suggestion being applied is not an edit by the admin

  function isAssist(elt) { return !!(elt && elt.dataset && elt.dataset.suggests !== undefined); }
  function suggested(elt) { return elt.dataset.suggests.split(/\s+/).filter(Boolean); }

  function assistEnded() {
    pending = Math.max(0, pending - 1);
    if (pending === 0) {
      const waiting = settled;
      settled = [];
      waiting.forEach(function (f) { f(); });
    }
  }

  // Run `then` once no prefill is in flight (or after 5 s, whatever happens to it).
  function afterPrefill(then) {
    if (pending === 0) return then();
    let done = false;
    const once = function () { if (!done) { done = true; then(); } };
    settled.push(once);
    setTimeout(once, 5000);
  }

  document.addEventListener("htmx:configRequest", function (event) {
    const elt = event.detail.elt;
    if (isAssist(elt)) {
      const form = elt.closest("form");
      assistSeq += 1;
      const values = {};
      const stamps = {};
      suggested(elt).forEach(function (name) {
        const field = form.elements[name];
        values[name] = field ? field.value : "";
        stamps[name] = edits[name] || 0;
      });
      asked = { seq: assistSeq, form: form, values: values, edits: stamps };
      event.detail.parameters.assist_seq = String(assistSeq);
    }
    const form = document.getElementById("integration-form");
    if (form && elt && elt.id === "test-button") form.dataset.tested = formValues(form);
  });

  document.addEventListener("htmx:beforeSend", function (event) {
    if (isAssist(event.detail.elt)) pending += 1;
  });
  // Fired once per request, whether it was answered, failed, timed out or was aborted.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (isAssist(event.detail.elt)) assistEnded();
  });

  document.addEventListener("consoleSuggest", function (event) {
    const detail = event.detail || {};
    if (!asked || detail.seq !== asked.seq || !isAssist(event.target)) return;  // stale
    const names = suggested(event.target);
    const fields = detail.fields || {};
    Object.keys(fields).forEach(function (name) {
      const field = asked.form.elements[name];
      if (!field || names.indexOf(name) < 0) return;
      const untouched = (edits[name] || 0) === asked.edits[name];
      const unchanged = field.value === asked.values[name] || field.value === "";
      if (!untouched || !unchanged || field.value === fields[name]) return;
      // The admin may be in the field, about to type (or a paste about to land): when all of
      // its value is selected (an empty field, a caret at 0), the suggestion arrives selected,
      // so what they type next replaces it instead of being appended to it.
      const whole = document.activeElement === field && field.selectionStart === 0 &&
        field.selectionEnd === field.value.length;
      field.value = fields[name];
      if (whole) field.select();
      // Whatever follows the field (the prompt form's sample fields) follows the new value.
      applying = true;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      applying = false;
    });
    syncSave();
  });

  // Test runs the values on screen once any pending prefill has settled.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-after-prefill]");
    if (!button || button.disabled || button.dataset.waiting) return;
    event.preventDefault();
    button.dataset.waiting = "1";
    afterPrefill(function () {
      delete button.dataset.waiting;
      htmx.trigger(button, "consoleTest");
    });
  });

  // A field whose message box holds an error is marked invalid (aria-invalid, styled in CSS),
  // whether the messages came with the page or from a Test's answer.
  function markInvalid() {
    document.querySelectorAll(".field-errors[id^='errors-']").forEach(function (box) {
      const field = document.getElementById("id_" + box.id.slice("errors-".length));
      if (!field) return;
      if (box.querySelector(".error")) {
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", box.id);
      } else if (field.getAttribute("aria-describedby") === box.id) {
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
      }
    });
  }

  // One answer swaps many parts at once (a Test's answer: every field's message box, out of
  // band), each firing its own events: Save and the marks are brought up to date once, when
  // the swap (or the settle) is over, not once per part. Reading the whole form per part cost
  // a Test about 20 ms of the page's main thread.
  let resync = false;
  function afterParts() {
    if (resync) return;
    resync = true;
    queueMicrotask(function () { resync = false; syncSave(); markInvalid(); });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (bringsFields(event.target)) formChanged();
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (bringsFields(event.target) || bringsFields(event.detail && event.detail.target)) formChanged();
    afterParts();
  });
  document.addEventListener("htmx:afterSettle", afterParts);

  // Publish, Roll back, Revoke: a form with data-confirm asks first.
  document.addEventListener("submit", function (event) {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("input", function (event) {
    formChanged();
    const t = event.target;
    if (t.id === "id_endpoint") document.getElementById("endpoint_auto").value = "0";
    if (t.id === "id_external_id") document.getElementById("external_id_auto").value = "0";
    if (t.name && !applying) edits[t.name] = (edits[t.name] || 0) + 1;
    if (t.closest && t.closest("#integration-form")) syncSave();
  });

  document.addEventListener("change", function (event) {
    formChanged();
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
      formChanged();
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
    markInvalid();
  });
})();
