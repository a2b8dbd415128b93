// Render the math of every page with the KaTeX shipped in docs/assets (no CDN).
// pymdownx.arithmatex (generic mode) wraps math in <span class="arithmatex"> / <div>.
function renderMath() {
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    var tex = el.textContent.trim();
    var display = tex.startsWith("\\[");
    tex = tex.replace(/^\\\(|\\\)$/g, "").replace(/^\\\[|\\\]$/g, "");
    katex.render(tex, el, { displayMode: display, throwOnError: false });
  });
}
if (typeof document$ !== "undefined") { document$.subscribe(renderMath); }
else { document.addEventListener("DOMContentLoaded", renderMath); }
