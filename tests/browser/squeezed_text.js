// Text of `minimum` characters or more that wraps inside a block narrower than that many
// average characters (0.55 em each): a squeezed column. Returns readable lines.
(minimum) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\s+/g, " ").trim();
    const parent = node.parentElement;
    if (text.length < minimum || !parent || parent.closest("svg, script, style, pre, [hidden], .visually-hidden")) continue;
    if (!parent.checkVisibility({visibilityProperty: true})) continue;
    range.selectNodeContents(node);
    const tops = new Set();
    for (const rect of range.getClientRects()) {
      if (rect.width > 0 && rect.height > 0) tops.add(Math.round(rect.top));
    }
    if (tops.size < 2) continue;
    let block = parent;
    while (block.parentElement && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    const style = getComputedStyle(block);
    const width = block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const characters = width / (0.55 * parseFloat(getComputedStyle(parent).fontSize));
    if (characters < minimum) {
      const tag = block.tagName.toLowerCase() + (block.id ? "#" + block.id : "") + (typeof block.className === "string" && block.className.trim() ? "." + block.className.trim().split(/\s+/).join(".") : "");
      found.push(`${tag}: "${text.slice(0, 40)}" on ${tops.size} lines, ${Math.floor(characters)} characters wide`);
    }
  }
  return found;
}
