// The Prompts and Requests Library's small behaviours. No inline scripts: the console runs
// under a strict Content-Security-Policy, so everything hangs off classes and data attributes.
(function () {
  "use strict";

  // A click on a value in a test's raw response sets the Response path to that value's
  // JMESPath (built server-side, in prompts_library/jsontree.py, and carried in data-path).
  function pickPath(button) {
    const path = button.dataset.path;
    if (!path) return;
    const tree = button.closest(".json-tree");
    if (tree) {
      for (const chosen of tree.querySelectorAll(".json-leaf.chosen")) chosen.classList.remove("chosen");
    }
    button.classList.add("chosen");
    const input = document.getElementById("id_response_path");
    if (input) {
      // The editing page: fill in the field, as if typed.
      input.value = path;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.classList.add("just-picked");
      window.setTimeout(function () { input.classList.remove("just-picked"); }, 1200);
      return;
    }
    // A test result page: show the path, and a link to edit the prompt with it.
    const details = button.closest("details.raw") || document;
    const note = details.querySelector(".picked-path");
    if (!note) return;
    note.querySelector(".picked").textContent = path;
    const link = note.querySelector(".picked-edit");
    if (link) link.href = link.dataset.base + "?response_path=" + encodeURIComponent(path);
    note.hidden = false;
  }

  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target.closest(".json-leaf") : null;
    if (target) pickPath(target);
  });
})();
