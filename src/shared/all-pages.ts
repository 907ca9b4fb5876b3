/** Every page of a paged List call, one after the other, following next_page_token to its end. */
export const allPages = async <T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> => {
  const out: T[] = [];
  let token = '';
  do {
    const r = await page(token);
    out.push(...r.items);
    token = r.next;
  } while (token);
  return out;
};
