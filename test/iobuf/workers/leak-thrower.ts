// Drops an IOBuf without release under leakCheck 'throw': the collection must raise E_LEAKED.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IOBuf, IOBufPool } from '@weft/iobuf';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const pool = IOBufPool.create({ leakCheck: 'throw' });
(() => {
  IOBuf.from('lost', pool);
})();
for (let i = 0; i < 50; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
