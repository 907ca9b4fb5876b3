import type { Command } from 'commander';
import { InstanceType } from '../gen/hypervisor/v1/common';
import { Image, type ListImagesRequest, type ListImagesResponse, type PullImageProgress, type PullImageRequest } from '../gen/hypervisor/v1/compute';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { enumValue, enumWord, formatAge, formatBytes } from './format';
import { column, type Kind } from './print';
import { listAll } from '../client/api-client';
import { resource, run, WATCH } from './verb';
import { listAndFollow } from './watch';

export const IMAGE: Kind<Image> = {
  singular: 'image',
  id: (i) => i.id,
  toJSON: (i) => Image.toJSON(i),
  columns: [
    column('NAME', (i) => i.name),
    column('ID', (i) => i.id),
    column('TYPE', (i) => (i.type ? enumWord(InstanceType, 'INSTANCE_TYPE_', i.type).toLowerCase() : 'any')),
    column('SIZE', (i) => formatBytes(i.sizeBytes)),
    column('TAGS', (i) => i.tags.join(',')),
    column('AGE', (i) => formatAge(i.createdAt).replace(' ago', '')),
  ],
};

export const listImages = (ctx: Ctx, type = 0): Promise<Image[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListImagesRequest, ListImagesResponse>(ctx.compute, ctx.compute.listImages, { type, pageSize: 100, pageToken });
    return { items: r.images, next: r.nextPageToken };
  });

/** Progress on a terminal: a bar with bytes, rate and ETA. Elsewhere (a pipe, a log): one plain line per step and every 10%. */
const progressView = async (tty: boolean) => {
  if (tty) {
    // Loaded for a pull on a terminal only, not with every start of hvctl.
    const { Presets, SingleBar } = await import('cli-progress');
    const bar = new SingleBar(
      {
      stream: process.stderr,
      format: '{status} [{bar}] {percentage}% | {done} of {size} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      },
      Presets.shades_classic,
    );
    let started = false;
    let t0 = Date.now();
    return {
      step(p: PullImageProgress) {
        const total = Number(p.total);
        const current = Number(p.current);
        const payload = { status: (p.status.split(/[\s:]/)[0] || 'pulling').padEnd(11), done: formatBytes(current), size: total ? formatBytes(total) : '?', rate: formatBytes(Math.round(current / Math.max(0.001, (Date.now() - t0) / 1000))) };
        if (!started && total > 0) {
          bar.start(total, current, payload);
          started = true;
          t0 = Date.now();
        } else if (started) bar.update(current, payload);
        else process.stderr.write(`${p.status}\n`);
      },
      end() {
        if (started) bar.stop();
      },
    };
  }
  let lastTenth = -1;
  let lastStatus = '';
  return {
    step(p: PullImageProgress) {
      const total = Number(p.total);
      const tenth = total > 0 ? Math.floor((Number(p.current) / total) * 10) : -1;
      if (p.status !== lastStatus || tenth !== lastTenth) {
        const figures = total > 0 ? ` ${formatBytes(p.current)} of ${formatBytes(p.total)} (${Math.floor((Number(p.current) / total) * 100)}%)` : '';
        process.stderr.write(`${p.status}${figures}\n`);
      }
      lastStatus = p.status;
      lastTenth = tenth;
    },
    end() {},
  };
};

export const imageCommand = (): Command => {
  const c = resource('image', 'Images: disks, kernels and container images the agents run', ['images']);

  c.command('pull')
    .description('Pull an image (an http(s) URL, #sha256=<hex> to pin it; oci://<registry>/<repo>:<tag> or @sha256:<hex> for a container image; or an image pulled before): progress on stderr, the image on stdout')
    .argument('<ref>', 'URL, oci:// reference, image id or name')
    .option('--type <type>', 'vm, microvm or container')
    .action(
      run(async (ctx, ref: string, o: { type?: string }) => {
        const type = o.type ? enumValue(InstanceType, 'INSTANCE_TYPE_', o.type, '--type') : 0;
        const view = await progressView(process.stderr.isTTY === true);
        let last: PullImageProgress | undefined;
        try {
          for await (const p of ctx.stream<PullImageRequest, PullImageProgress>(ctx.compute, ctx.compute.pullImage, { imageRef: ref, type })) {
            view.step(p);
            last = p;
          }
        } finally {
          view.end();
        }
        if (!last?.completed) throw new CliError(`pull of ${ref} ended before it completed${last?.error ? `: ${last.error}` : ''}`, EXIT.FAILURE);
        // The final status names the image ("pulled image <id> (…)"); else it is the one named after the file.
        const id = /pulled image ([0-9a-f-]{36})/.exec(last.status)?.[1];
        const file = decodeURIComponent(ref.split('#')[0].split('?')[0].split('/').pop() ?? '');
        const all = await listImages(ctx);
        const image = all.find((i) => i.id === id) ?? all.find((i) => i.id === ref || i.name === ref) ?? all.find((i) => i.name === file);
        if (image) await ctx.printer.one(IMAGE, image);
        else ctx.printer.done(id ?? ref, last.status);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List images')
    .option('--type <type>', 'vm, microvm or container')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { type?: string; watch?: boolean }) => {
        const type = o.type ? enumValue(InstanceType, 'INSTANCE_TYPE_', o.type, '--type') : 0;
        const list = () => listImages(ctx, type);
        if (!o.watch) return ctx.printer.list(IMAGE, await list());
        await listAndFollow(ctx, IMAGE, 'image', list, async (id) => (await list()).find((i) => i.id === id));
      }),
    );
  return c;
};
