//! Reading a store's directories and files again: what changed is parsed, what did not is
//! kept, a bad file keeps its last good version, a chain cut while written waits.

use std::{collections::BTreeMap, sync::Arc};

use super::{
    file::{self, Stamp},
    set::CertificateSet,
    CertificateError, CertificateErrorKind, CertificateSource, CertificateStore, Sources,
    StoreLoadError,
};

impl CertificateStore {
    pub(super) fn reload_locked(&self, sources: &mut Sources) -> Result<(), StoreLoadError> {
        let current = self.inner.current.load_full();
        let previous = current.sources();
        let mut next: BTreeMap<_, _> = previous
            .iter()
            .filter(|(source, _)| matches!(source, CertificateSource::Inserted(_)))
            .map(|(source, stored)| (source.clone(), stored.clone()))
            .collect();
        let mut errors = Vec::new();
        let mut paths = sources.files.clone();
        for dir in &sources.dirs {
            match file::certificate_files(dir) {
                Ok(found) => paths.extend(found),
                Err(error) => {
                    // An unreadable directory keeps serving what it served.
                    errors.push(error);
                    for (source, stored) in previous {
                        if matches!(source, CertificateSource::File(p) if p.parent() == Some(dir)) {
                            next.insert(source.clone(), stored.clone());
                        }
                    }
                }
            }
        }
        paths.sort();
        paths.dedup();
        let provider = self.provider();
        for path in paths {
            let source = CertificateSource::File(path.clone());
            let last_good = previous.get(&source);
            if let Some(stored) = last_good {
                if stored.stamp.is_some() && stored.stamp == Stamp::now(&path) {
                    // Back to what is served: a shortened version seen before is forgotten.
                    sources.shortened.remove(&path);
                    next.insert(source, stored.clone());
                    continue;
                }
            }
            let loaded = match &provider {
                // A trust bundle (a CA certificate without a key) is not served.
                Some(provider) => match file::load(&path, provider) {
                    Ok(None) => continue,
                    Ok(Some(stored)) => Ok(stored),
                    Err(error) => Err(error),
                },
                None => Err(CertificateError {
                    path: path.clone(),
                    kind: CertificateErrorKind::NoCryptoProvider,
                }),
            };
            let loaded = loaded.and_then(|stored| match last_good {
                Some(served) if file::shortened(served, &stored) => {
                    let seen = stored
                        .stamp
                        .filter(|stamp| sources.shortened.get(&path) == Some(stamp));
                    match (seen, stored.stamp) {
                        // The same file as at the last reload: shortened on purpose.
                        (Some(_), _) | (None, None) => Ok(stored),
                        (None, Some(stamp)) => {
                            sources.shortened.insert(path.clone(), stamp);
                            Err(CertificateError {
                                path: path.clone(),
                                kind: CertificateErrorKind::ChainShortened {
                                    served: served.key.cert.len(),
                                    found: stored.key.cert.len(),
                                },
                            })
                        }
                    }
                }
                _ => Ok(stored),
            });
            if loaded.is_ok() {
                sources.shortened.remove(&path);
            }
            match loaded {
                Ok(stored) => {
                    next.insert(source, Arc::new(stored));
                }
                Err(error) => {
                    crate::trace::certificate_not_loaded(&error.path, &error);
                    errors.push(error);
                    if let Some(stored) = last_good {
                        next.insert(source, stored.clone());
                    }
                }
            }
        }
        self.inner
            .current
            .store(Arc::new(CertificateSet::new(next)));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreLoadError { errors })
        }
    }
}
