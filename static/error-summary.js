// The error summary (templates/_macros.html), as GOV.UK's works: focus moves to it when the
// page loads, so a screen reader reads it first and a keyboard starts there; a link in it moves
// focus to the field it names, scrolled so that the field's label or legend is in view too.
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  if (!summary) {
    return;
  }

  // What to bring into view with a field: the legend of its group of checkboxes, or of the
  // loss item it belongs to when that fits on the screen with the field, else its label.
  function caption(input) {
    var label = document.querySelector("label[for='" + CSS.escape(input.id) + "']");
    var fieldset = input.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    if (!legend) {
      return label || input;
    }
    if (input.type === "checkbox" || input.type === "radio" || !label) {
      return legend;
    }
    var gap = input.getBoundingClientRect().bottom - legend.getBoundingClientRect().top;
    return gap < window.innerHeight ? legend : label;
  }

  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!input) {
      return;
    }
    event.preventDefault();
    caption(input).scrollIntoView();
    input.focus({ preventScroll: true });
  });

  summary.focus();
})();
