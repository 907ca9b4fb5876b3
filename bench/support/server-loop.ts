/**
 * The server's event loop delay since the last scrape of its /metrics (prom-client's default
 * metrics, whose histogram starts again at each scrape), in ms: a scrape before a phase starts
 * it, one after reads the phase.
 */
export const serverLoopDelay = async (httpPort: number): Promise<{ p50: string; p99: string; max: string }> => {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const ms = (name: string) => {
    const m = new RegExp(`^nodejs_eventloop_lag_${name}_seconds ([\\d.e+-]+)$`, 'm').exec(text);
    return m ? (Number(m[1]) * 1000).toFixed(0) : '?';
  };
  return { p50: ms('p50'), p99: ms('p99'), max: ms('max') };
};
