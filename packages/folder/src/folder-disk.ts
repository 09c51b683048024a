/**
 * @module folder-disk
 * Whether a folder remote lives on this machine's own disk, so that blob
 * reads can go to it in place (`capabilities.local`): a device keeps no
 * second copy of every attached byte in its blob cache. Judged by the file
 * system's type (Linux `statfs`): disk file systems are local; network
 * shares (NFS, SMB, FUSE mounts such as sshfs) and the FAT/exFAT of USB
 * sticks and SD cards, which come and go, are not, and keep the cache for
 * offline reads. Elsewhere (macOS, Windows) the answer is no unless the
 * caller says otherwise.
 */
import { statfs } from 'node:fs/promises';

/** Linux `f_type` magic numbers of disk file systems (linux/magic.h). */
const LOCAL_DISK_TYPES = new Set<number>([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0xf2f52010, // f2fs
  0x2fc12fc1, // zfs
  0xca451a4e, // bcachefs
  0x3153464a, // jfs
  0x52654973, // reiserfs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs (containers)
]);

/** Whether a file system of Linux type `type` is a local disk (see the module comment). */
export const isLocalDiskType = (type: number): boolean => LOCAL_DISK_TYPES.has(type);

/** Whether the directory `dir` is on a local disk file system (see the module comment); false when that cannot be told. */
export async function onLocalDisk(dir: string, platform: string = process.platform): Promise<boolean> {
  if (platform !== 'linux') return false;
  const st = await statfs(dir).catch(() => undefined);
  return st !== undefined && isLocalDiskType(Number(st.type));
}
