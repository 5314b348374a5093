// How far the page is wider than the screen, and the first elements that stick out.
() => {
  const width = document.documentElement.clientWidth;
  const overflow = document.documentElement.scrollWidth - width;
  if (overflow <= 1) return [];
  const wide = [...document.body.querySelectorAll("*")]
    .filter(element => element.getBoundingClientRect().right > width + 1)
    .filter(element => !element.closest(".visually-hidden"))
    .slice(0, 5)
    .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") + (element.className && typeof element.className === "string" ? "." + element.className.trim().split(/\s+/).join(".") : ""));
  return [`page is ${overflow}px wider than the screen: ${wide.join(", ")}`];
}
