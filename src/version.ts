// glocal's version, as package.json states it (a test in the shared suite checks that the two agree): written into
// the files glocal makes (SoftwareVersions of a DICOM SEG) and printed by `glocal --version`.
export const GLOCAL_VERSION = '0.1.0';
