// Every IPv4 or IPv6 address (with an optional /prefix) in the visible text of the page
// whose characters do not all sit on one line, or that is cut off by a box that hides its
// overflow or by the screen's edge. Returns readable lines; empty: every address is whole.
() => {
  const CANDIDATE = /[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*(?:\/\d{1,3})?/g;
  const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?$/;
  const IPV6 = /^[0-9A-Fa-f:.]+(?:\/\d{1,3})?$/;
  function isAddress(text) {
    if (IPV4.test(text)) {
      return true;
    }
    // Times ("11:40:02") have colons too: an IPv6 address has "::" or seven colons.
    const colons = (text.match(/:/g) || []).length;
    return IPV6.test(text) && (text.includes("::") || colons === 7);
  }
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, textarea, svg, [hidden]")) {
      continue;
    }
    for (const match of node.data.matchAll(CANDIDATE)) {
      const text = match[0].replace(/[.:]+$/, "");
      // A version number ("Chrome/126.0.0.0") is not an address.
      if (!isAddress(text) || node.data[match.index - 1] === "/") {
        continue;
      }
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + text.length);
      const rects = [...range.getClientRects()].filter((rect) => rect.width > 0 && rect.height > 0);
      if (!rects.length) {
        continue;
      }
      const where = parent.closest("[id]");
      const place = `in <${parent.tagName.toLowerCase()}${parent.className ? " class=" + parent.className : ""}>${where ? " inside #" + where.id : ""}`;
      const tops = new Set(rects.map((rect) => Math.round(rect.top)));
      if (tops.size > 1) {
        problems.push(`${text} wraps over ${tops.size} lines ${place}`);
      }
      const right = Math.max(...rects.map((rect) => rect.right));
      // Sticking out of its own box (a grid cell) it runs under the next one.
      let block = parent;
      while (block && ["inline", "contents"].includes(getComputedStyle(block).display)) {
        block = block.parentElement;
      }
      const scrolls = block && getComputedStyle(block).overflowX !== "visible";
      if (block && !scrolls && right > block.getBoundingClientRect().right + 1) {
        problems.push(`${text} sticks out of <${block.tagName.toLowerCase()}> ${place}`);
      }
      let clip = parent;
      while (clip && !["hidden", "clip", "auto", "scroll"].includes(getComputedStyle(clip).overflowX)) {
        clip = clip.parentElement;
      }
      const style = clip ? getComputedStyle(clip) : null;
      // A box that scrolls sideways (a wide table's) shows the rest; one that hides does not.
      if (clip && (style.overflowX === "hidden" || style.overflowX === "clip")) {
        const box = clip.getBoundingClientRect();
        if (right > box.right + 1) {
          problems.push(`${text} is cut off by <${clip.tagName.toLowerCase()} class=${clip.className}> ${place}`);
        }
      } else if (!clip && right > document.documentElement.clientWidth + 1) {
        problems.push(`${text} runs off the screen ${place}`);
      }
    }
  }
  return problems;
}
