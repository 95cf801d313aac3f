//! `setseed(x)` and `random()` as DuckDB pairs them: once a session has run
//! `SELECT setseed(0.42)`, its `random()` values come from one generator seeded by `0.42`, so a
//! script that seeds before it shuffles or samples (`ORDER BY random()`) draws the same values
//! each time it runs, where DataFusion's `random()` cannot be seeded and `setseed` did not
//! exist. As in DuckDB, the draws are the same run to run where one thread draws them
//! (`--threads 1`): partitions scanned side by side take turns at the generator in no fixed
//! order. Before any `setseed`, `random()` draws from the thread's own generator, as
//! DataFusion's did.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use datafusion::arrow::array::{Float64Array, NullArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::text_functions::arrays;

/// The generator `setseed` seeds, shared by a session's `random()` calls; two functions are
/// alike when they share it.
#[derive(Debug, Clone, Default)]
struct SessionSeed(Arc<Mutex<Option<StdRng>>>);

impl SessionSeed {
    fn generator(&self) -> MutexGuard<'_, Option<StdRng>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PartialEq for SessionSeed {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SessionSeed {}

impl std::hash::Hash for SessionSeed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

/// Registers `setseed` and the `random` that reads its generator, in place of DataFusion's.
pub fn register(ctx: &SessionContext) {
    let seed = SessionSeed::default();
    ctx.register_udf(ScalarUDF::from(SetSeed {
        seed: seed.clone(),
        signature: Signature::exact(vec![DataType::Float64], Volatility::Volatile),
    }));
    ctx.register_udf(ScalarUDF::from(SeededRandom {
        seed,
        signature: Signature::nullary(Volatility::Volatile),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SetSeed {
    seed: SessionSeed,
    signature: Signature,
}

impl ScalarUDFImpl for SetSeed {
    fn name(&self) -> &str {
        "setseed"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let seeds = arrays(&args.args, args.number_rows)?;
        let seeds = seeds[0].as_any().downcast_ref::<Float64Array>();
        for seed in seeds.into_iter().flatten().flatten() {
            if !(-1.0..=1.0).contains(&seed) {
                return exec_err!("SETSEED accepts seed values between -1.0 and 1.0, inclusive");
            }
            let generator = StdRng::seed_from_u64(seed.to_bits());
            *self.seed.generator() = Some(generator);
        }
        Ok(ColumnarValue::Array(Arc::new(NullArray::new(
            args.number_rows,
        ))))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SeededRandom {
    seed: SessionSeed,
    signature: Signature,
}

impl ScalarUDFImpl for SeededRandom {
    fn name(&self) -> &str {
        "random"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut values = vec![0.0; args.number_rows];
        match self.seed.generator().as_mut() {
            Some(seeded) => seeded.fill(&mut values[..]),
            None => rand::rng().fill(&mut values[..]),
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(values))))
    }
}
