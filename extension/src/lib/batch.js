// Updates batched per animation frame: the helper sends up to 4 progress rounds a second, each
// possibly in several parts, and the background relays each as it comes. A page that rendered
// each one would do the layout work several times per frame; this keeps the newest and renders
// once, in the next frame. Pure: the scheduler is passed in (requestAnimationFrame in pages).

export class FrameBatcher {
  /**
   * `schedule(callback)` runs `callback` once before the next paint (requestAnimationFrame);
   * `flush(items)` gets every item pushed since the last flush, in order.
   */
  constructor(schedule, flush) {
    this.schedule = schedule;
    this.flushItems = flush;
    this.items = [];
    this.scheduled = false;
    this.flushes = 0;
  }

  push(item) {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.run());
  }

  run() {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    if (!items.length) return;
    this.flushes += 1;
    this.flushItems(items);
  }
}
