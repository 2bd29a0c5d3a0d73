// hp's public API: put a PyTorch model's module hierarchy back onto the
// nodes of its ONNX export. The one header a user includes.
//
//   absl::StatusOr<onnx::ModelProto> model = hp::LoadModel("bert.onnx");
//   absl::StatusOr<hp::ScopeTrace> trace =
//   hp::LoadScopeTrace("bert.trace.json"); hp::TagOptions options;
//   absl::StatusOr<hp::TagResult> result = hp::TagModel(&*model, &*trace,
//   options); hp::SaveModel(*model, "bert.tagged.onnx");
//
// or, for a file of any size, with the trace check and an atomic write:
//
//   hp::TagFileRequest request;
//   request.model_path = "bert.onnx";
//   request.trace_path = "bert.trace.json";
//   request.output_path = "bert.tagged.onnx";
//   absl::StatusOr<hp::TagFileResult> tagged = hp::TagFile(request, {});
//
// Pipeline (each stage one folder under hp/): load the model (io/) -> read
// the trace and check that it belongs to the model (trace/) -> list the
// modules (model/) -> reconstruct each node's scope (scope/) -> resolve
// module tags, propagate, write (tag/) -> save. pipeline/ runs the stages
// on a file; view/ reads a tagged model back for analyze, validate and the
// drawings. docs/architecture.md has the map.
#ifndef HP_HP_H_
#define HP_HP_H_

// Loading and saving models: LoadModel, SaveModel, SaveOptions; the side
// files of external data: ExternalDataFiles, PlaceExternalData,
// ExternalDataPolicy.
#include "hp/io/model_io.h"
// The scope trace: ScopeTrace, LoadScopeTrace, ParseScopeTrace.
#include "hp/trace/scope_trace.h"
// Does a trace belong to a model: DigestPolicy, CheckTraceBelongsToModel.
#include "hp/trace/trace_binding.h"
// Options and results: TagOptions, TagFormat, TagResult, NodeTag, MatchKind,
// TagStatistics, HierarchySource.
#include "hp/tag/tag_types.h"
// Their names and JSON: MatchKindName, TagFormatName, HierarchySourceName.
#include "hp/tag/tag_codec.h"
// Tagging a parsed model: ComputeTags, TagModel, RecordedTagOptions.
#include "hp/tag/tagger.h"
// IsTagged, StripTags.
#include "hp/tag/tagged_model.h"
// One model file end to end, of any size: TagFile, DefaultTracePath.
#include "hp/pipeline/tag_file.h"
// Tags onto a model derived from a tagged one (optimized, fused,
// converted): TransferFile, TransferTags; each node's MatchKind (kept,
// replacing, inserted, unplaced).
#include "hp/transfer/transfer_file.h"
// A module instance (its subtree) as a standalone model: ExtractFile.
#include "hp/extract/extract_file.h"
// Where an onnxruntime session's time goes per module: ProfiledGraph,
// NodeTimes, ProfileModules, ModuleProfile; FlameGraphSvg, FoldedStacks.
#include "hp/profile/flame_graph.h"
#include "hp/profile/module_profile.h"
// The views: InspectModel, ShownTags, ModuleTree, AnalysisText/Json,
// ValidateStoredTags, GraphmlText, DotText.
#include "hp/view/analyze.h"
#include "hp/view/dot.h"
#include "hp/view/graphml.h"
#include "hp/view/inspection.h"
#include "hp/view/validate.h"
// Uncommitted outputs removed when Ctrl-C, SIGTERM or SIGHUP stops the
// program: RemoveRegisteredOnStopSignals (the converter calls it).
#include "hp/io/stop_signals.h"

#endif  // HP_HP_H_
