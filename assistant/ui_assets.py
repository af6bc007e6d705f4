"""The chat page's stylesheet and scripts: static text, nothing from the archive or a user.

The scripts only scroll, and turn clicks on citation and "Remove dates" buttons into the
Gradio events `cite` and `undate`; the markup they act on comes from `ui_render`.
"""

# Styles for ui_render's markup, in the theme's colour variables.
CSS = """
#status .status { color: var(--body-text-color-subdued); font-size: 0.85em; }
#transcript { border: 1px solid var(--border-color-primary); border-radius: 8px;
              padding: 12px; background: var(--background-fill-secondary); }
#transcript .empty, #source-view .empty { color: var(--body-text-color-subdued); padding: 8px; }
.turn { margin-bottom: 18px; }
.msg { border-radius: 8px; padding: 10px 12px; margin: 6px 0; }
.msg.user { background: var(--color-accent-soft); margin-left: 15%; }
.msg.user .who { font-weight: 600; margin-right: 6px; }
.msg.assistant { background: var(--background-fill-primary);
                 border: 1px solid var(--border-color-primary); margin-right: 5%; }
.searched, .filters-note, .window-note { font-size: 0.85em; margin: 2px 0 2px 15%;
                                         color: var(--body-text-color-subdued); }
.window-note .window { font-weight: 600; color: var(--body-text-color); }
button.undate { cursor: pointer; margin-left: 6px; padding: 0 6px; font: inherit;
                border: 1px solid var(--border-color-primary); border-radius: 4px;
                background: var(--background-fill-primary); color: var(--color-accent); }
.searched-q { font-style: italic; color: var(--body-text-color); }
ol.quotes { list-style: none; padding: 0; margin: 0 0 8px 0; }
ol.quotes li { margin: 0 0 8px 0; border-left: 3px solid var(--border-color-accent);
               padding-left: 10px; }
blockquote.quote { display: inline; margin: 0; padding: 0; border: 0; font-size: 1.02em; }
button.cite-ref, button.cite { cursor: pointer; border: 0; background: none; padding: 0;
                               color: var(--color-accent); font: inherit; }
button.cite-ref { font-weight: 700; }
button.cite-ref:hover, button.cite:hover .headline { text-decoration: underline; }
.cards { display: grid; gap: 6px; }
.card { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
        border-radius: 6px; padding: 6px 10px; background: var(--background-fill-secondary); }
.card button.cite { text-align: left; font-weight: 600; }
.card .num { color: var(--color-accent); }
.card .headline { color: var(--body-text-color); }
.meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 2px; }
.meta .inferred { font-style: italic; }
.meta .unlinked { font-family: var(--font-mono); }
.timeline-label { margin: 0 0 6px 0; color: var(--body-text-color-subdued); }
ol.timeline .when { font-weight: 700; font-variant-numeric: tabular-nums; margin-right: 6px; }
details.also-in { font-size: 0.85em; margin-top: 2px; }
details.also-in summary { cursor: pointer; color: var(--body-text-color-subdued); }
details.also-in ul { margin: 2px 0 0 0; padding-left: 18px; }
details.also-in .meta { display: inline; font-size: inherit; margin-left: 4px; }
p.newer { margin: 8px 0 0 0; padding: 6px 10px; border-radius: 6px; font-size: 0.92em;
          background: var(--color-accent-soft); }
p.newer button.cite { text-align: left; font-weight: 600; }
.no-answer { font-weight: 600; margin: 0 0 6px 0; }
.nearest { border: 1px dashed var(--border-color-primary); border-radius: 6px; padding: 8px; }
.nearest .card { border-left-color: var(--body-text-color-subdued); }
.nearest-label { margin: 0 0 6px 0; color: var(--body-text-color-subdued); }
.error { color: var(--error-text-color); margin: 0; }
.invisible-char { font-family: var(--font-mono); font-size: 0.75em; color: var(--error-text-color);
                  border: 1px solid currentColor; border-radius: 3px; padding: 0 2px; }
#source-view { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px; }
.source-label { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em;
                color: var(--color-accent); }
.source-title { margin: 2px 0 4px 0; }
.article-text { white-space: pre-wrap; line-height: 1.55; margin-top: 10px; }
mark.quote-highlight { background: #fde68a; color: #1f2937; padding: 2px 0;
                       border-bottom: 2px solid #f59e0b; box-decoration-break: clone;
                       -webkit-box-decoration-break: clone; }
"""

# The js_on_load of the transcript and of the source view (gr.HTML gives them `element`,
# `trigger` and `watch`). scrollInPanel scrolls the panel, not the page, to bring `node` up.
SCROLL_JS = """
const scrollInPanel = (node, offset) => {
  for (let box = element; box; box = box.parentElement) {
    const overflow = getComputedStyle(box).overflowY;
    if ((overflow === 'auto' || overflow === 'scroll') && box.scrollHeight > box.clientHeight) {
      box.scrollTop += node.getBoundingClientRect().top - box.getBoundingClientRect().top - offset;
      break;
    }
  }
  node.scrollIntoView({block: 'nearest'});
};
"""
TRANSCRIPT_JS = SCROLL_JS + """
let redone = null;  // the turn asked again without dates: keep it in view, not the last one
element.addEventListener('click', (event) => {
  const undate = event.target.closest('[data-undate]');
  if (undate) {
    event.preventDefault();
    undate.disabled = true;
    undate.textContent = 'Asking again…';
    redone = undate.dataset.undate;
    trigger('undate', {turn: redone});
    return;
  }
  const target = event.target.closest('[data-cite]');
  if (target) { event.preventDefault(); trigger('cite', {cite: target.dataset.cite}); }
});
watch('value', () => {
  const turns = element.querySelectorAll('.turn');
  const turn = redone === null ? turns[turns.length - 1] : turns[Number(redone)];
  redone = null;
  if (turn) scrollInPanel(turn, 8);
});
"""
SOURCE_JS = SCROLL_JS + """
watch('value', () => {
  const mark = element.querySelector('mark.quote-highlight');
  const top = element.querySelector('.source-article');
  if (mark) scrollInPanel(mark, 120); else if (top) scrollInPanel(top, 8);
});
"""
