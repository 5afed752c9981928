// The library the notebooks import as `td` (compiled to dist/src/index.js): what a chapter
// calls, by layer. Internals (the hand-written backward pass, worker-thread plumbing, the
// runner's report) stay behind their modules.

// runtime
export { defaultWorkers, describeBackend, initBackend, type BackendInfo, type BackendName } from './runtime/backend';
export { DATA_DIR, REPO_ROOT, TRAINED_CHECKPOINT_DIR, repoPath } from './runtime/paths';

// math
export { GaussianMixture, type MixtureSpec } from './math/mixture';
export { Rng } from './math/rng';

// diffusion
export { DDPMScheduler, TUTORIAL_SCHEDULER, type DDPMSchedulerConfig } from './diffusion/scheduler';
export { timestepEmbedding } from './diffusion/embedding';
export { VPSDE } from './diffusion/sde';
export * from './diffusion/parameterization';
export { posteriorCoefficients } from './diffusion/posterior';
export {
  closedFormVelocity,
  exactVelocity,
  oracleVelocity,
  predictNoise,
  predictVelocity,
  scoreFromVelocity,
  smoothedScoreFromVelocity,
  type ScoreFn,
  type VelocityPredictor,
} from './diffusion/predictor';

// model
export { VelocityModel } from './model/model';
export { DEFAULT_MODEL_CONFIG, type VelocityModelConfig } from './model/network';
export { modelVelocity } from './model/folded';
export { plainModelVelocity } from './model/predictors';
export { assertWritableDirectory } from './model/checkpoint-files';
export {
  loadCheckpoint,
  loadTrainedCheckpoint,
  saveCheckpoint,
  type LoadedCheckpoint,
} from './model/checkpoint';

// train
export {
  RECOMMENDED_MODEL,
  RECOMMENDED_TRAINING,
  TUTORIAL_TRAINING,
  type TrainConfig,
  type TrainLog,
} from './train/config';
export { Trainer } from './train/trainer';
export {
  loadTrainingState,
  RecipeMismatch,
  removeTrainingState,
  resumeTraining,
  saveTrainingState,
  trainingStateDir,
  type Recipe,
  type TrainingState,
} from './train/training-state';
export { TARGET_KINDS, type TargetKind } from './train/targets';
export { gradientNoise, type GradientNoiseBand } from './train/gradient-noise';

// eval
export {
  compareWithMixture,
  histogram,
  ksStatistic,
  modeStats,
  wasserstein1,
  type ModeStats,
  type SampleReport,
} from './eval/metrics';
export { bayesOptimalVLoss } from './eval/optimal-loss';
export { exactSamplingW1 } from './eval/tolerances';
export { expectedModeStats } from './eval/mode-expectations';
export { judgeSamples, ksBar, STANDARD_ERRORS, worstRatio, type Judgement } from './eval/sample-bars';
export { coupledComparison, type CoupledComparison } from './eval/coupled';
export { lastTenthMeanLoss } from './eval/training-curve';
export { evaluateModel, scoreErrors, type ScoreError } from './eval/evaluate';
export { keyReuseMarginal, keyReuseOptimalLoss, keyReuseOracle, keyReuseVelocityMoments } from './eval/key-reuse';

// sample
export { ddpmSample, type DDPMSampleResult } from './sample/ddpm';
export { annealedLangevin, geometricSigmas, langevin, mixtureScore, smoothedMixtureScore } from './sample/langevin';
export {
  evenTimesteps,
  predictorCorrectorSample,
  probabilityFlowSample,
  reverseSdeSample,
  type SamplerRun,
  type Trajectory,
} from './sample/sde-samplers';
export { compareSamplers, findSamplerRow, type SamplerKind, type SamplerRow } from './sample/compare';
export { ddpmSampleModel } from './sample/parallel/ddpm-model';
export { parallelModelVelocity, type ParallelPredictorOptions } from './sample/parallel/predictor';

// notebook
export { chapterMixture, setupNotebook } from './notebook/setup';
export { progress, publishChecks, publishMeta, showFigure, showMarkdown, showTable } from './notebook/display';
export { check, evaluateCheck, type Check } from './notebook/checks';
export { discretisationBiases, samplerChecks } from './notebook/sampler-checks';
export { coupledCheck, judgementChecks, modeChecks, mustFailCheck } from './notebook/sample-checks';
export { judgementSummary, mixtureTex } from './notebook/prose';
export { layout, lineTrace, type Figure } from './notebook/plots';
export {
  coupledFigure,
  histogramVsPdf,
  lossFigure,
  samplerW1Figure,
  scheduleFigure,
  stackedHistograms,
  timeSliderFigure,
  type HistogramPanel,
} from './notebook/figures';
export { perTimestepFigure, scoreCurvesFigure, scoreSdeFigure } from './notebook/sde-figures';
export { modeTableRows, modeWeights, samplerTableRows } from './notebook/sample-tables';
export { perMode } from './notebook/tables';
